/** The Pipeline Generator pool's jobs. */
import { planGenerator } from "../repo/plan";
import { azurePipeline, pipelineSelfTest } from "./azure-pipelines";
import { githubActionsWorkflow } from "./github-actions";

export const githubActions = planGenerator(
  "pipeline.github-actions",
  "pipeline",
  "Writes a GitHub Actions workflow that installs and tests the service.",
  (plan) => ({
    ".github/workflows/ci.yml": githubActionsWorkflow(plan),
  }),
);

export const azure = planGenerator(
  "pipeline.azure",
  "pipeline",
  "Writes an Azure Pipelines definition that installs and tests the service.",
  (plan) => ({
    "azure-pipelines.yml": azurePipeline(plan),
  }),
);

export const selfTest = planGenerator(
  "pipeline.self-test",
  "pipeline",
  "Adds an npm test that checks the generated pipeline definitions (for the pipeline blueprint).",
  pipelineSelfTest,
);
