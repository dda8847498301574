/**
 * A blueprint's `deliver`: after its package step (so after its approval gate, when it has one),
 * a deliver.git step pushes the package to the remote, and a deliver.azure-pipeline step builds
 * the pushed branch. Secrets are named in the request and referenced as `$secret` in the steps.
 */
import type { JsonObject, StepSpec } from "../../schema/api";
import type { Deliver } from "../../schema/blueprints";

const defined = (o: Record<string, unknown>): JsonObject =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as JsonObject;

export function deliverySteps(deliver: Deliver | undefined): StepSpec[] {
  if (!deliver) return [];
  const { git, azurePipelines } = deliver;
  const push: StepSpec = {
    id: "deliver",
    type: "deliver.git",
    dependsOn: ["package"],
    input: defined({
      fromStep: "package",
      url: git.url,
      host: git.host,
      credential: { $secret: git.secret },
      username: git.username,
      branch: git.branch,
      baseBranch: git.baseBranch,
      apiUrl: git.apiUrl,
      force: git.force,
    }),
  };
  if (!azurePipelines) return [push];
  const build: StepSpec = {
    id: "deliver-pipeline",
    type: "deliver.azure-pipeline",
    dependsOn: ["deliver"],
    input: defined({
      fromStep: "deliver",
      organization: azurePipelines.organization,
      project: azurePipelines.project,
      credential: { $secret: azurePipelines.secret },
      apiUrl: azurePipelines.apiUrl,
    }),
  };
  return [push, build];
}
