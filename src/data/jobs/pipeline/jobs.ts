/** The Pipeline Generator pool's jobs. */
import * as GENERATORS from "../../../../schema/jobs/generators";
import { planGenerator } from "../repo/plan";
import { azurePipeline, pipelineSelfTest } from "./azure-pipelines";
import { githubActionsWorkflow } from "./github-actions";

export const githubActions = planGenerator(GENERATORS.githubActions, (plan) => ({
  ".github/workflows/ci.yml": githubActionsWorkflow(plan),
}));

export const azure = planGenerator(GENERATORS.azure, (plan) => ({
  "azure-pipelines.yml": azurePipeline(plan),
}));

export const selfTest = planGenerator(GENERATORS.selfTest, pipelineSelfTest);
