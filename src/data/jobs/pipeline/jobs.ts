/** The Pipeline Generator pool's jobs. */
import { z } from "zod";
import { defineJob } from "../../job";
import { FilesOutput, upstreamPlan } from "../repo/plan";
import { azurePipeline, pipelineSelfTest } from "./azure-pipelines";
import { githubActionsWorkflow } from "./github-actions";

export const githubActions = defineJob({
  type: "pipeline.github-actions",
  pool: "pipeline",
  description: "Writes a GitHub Actions workflow that installs and tests the service.",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async ({ upstream }) => ({ files: { ".github/workflows/ci.yml": githubActionsWorkflow(upstreamPlan(upstream)) } }),
});

export const azure = defineJob({
  type: "pipeline.azure",
  pool: "pipeline",
  description: "Writes an Azure Pipelines definition that installs and tests the service.",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async ({ upstream }) => ({ files: { "azure-pipelines.yml": azurePipeline(upstreamPlan(upstream)) } }),
});

export const selfTest = defineJob({
  type: "pipeline.self-test",
  pool: "pipeline",
  description: "Adds an npm test that checks the generated pipeline definitions (for the pipeline blueprint).",
  input: z.object({}).strict(),
  output: FilesOutput,
  run: async ({ upstream }) => ({ files: pipelineSelfTest(upstreamPlan(upstream)) }),
});
