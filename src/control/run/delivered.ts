/**
 * `run.delivered`: when a delivery step (pool `delivery`) succeeds, the run's log says where its
 * output landed, with the external ids (remote, branch, commit, pull request, pipeline, build),
 * so webhooks and the audit trail carry them without reading step outputs.
 */
import type { Json } from "../../../schema/api";

const EXTERNAL_IDS = ["remoteUrl", "branch", "commitSha", "pullRequest", "pipeline", "build"] as const;

/** The event's data: the external ids the delivery step's output names (nothing else of it). */
export function deliveredData(output: Json): Record<string, Json> {
  const o = output !== null && typeof output === "object" && !Array.isArray(output) ? output : {};
  return Object.fromEntries(EXTERNAL_IDS.filter((k) => o[k] !== undefined).map((k) => [k, o[k] as Json]));
}
