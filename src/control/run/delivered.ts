/**
 * `run.delivered`: when a delivery step (pool `delivery`) succeeds, the run's log says where its
 * output landed, with the external ids (remote, branch, commit, pull request, pipeline, build),
 * so webhooks and the audit trail carry them without reading step outputs.
 */
import type { Json } from "../../../schema/api";
import type { ArtifactDelivery } from "../../../schema/artifacts";
import { json } from "../sqlite";
import type { StepRow } from "./rows";

const EXTERNAL_IDS = ["remoteUrl", "branch", "commitSha", "pullRequest", "pipeline", "build"] as const;

/** The event's data: the external ids the delivery step's output names (nothing else of it). */
export function deliveredData(output: Json): Record<string, Json> {
  const o = output !== null && typeof output === "object" && !Array.isArray(output) ? output : {};
  return Object.fromEntries(EXTERNAL_IDS.filter((k) => o[k] !== undefined).map((k) => [k, o[k] as Json]));
}

type Out = Record<string, Json>;
const fromStepOf = (s: StepRow) => json.read<{ fromStep?: unknown }>(s.input)?.fromStep;
const link = (v: Json | undefined) => (v ?? null) as { id: string; url: string } | null;

/**
 * The artifact lineage's `delivered`: for each step, the succeeded deliver.git steps that pushed
 * its artifact (their input's `fromStep`), each with the succeeded deliver.azure-pipeline steps
 * that built the branch it pushed. Read from the steps' outputs, so it needs no table of its own.
 */
export function deliveriesOf(steps: StepRow[]): (stepId: string) => ArtifactDelivery[] {
  const done = (type: string) => steps.filter((s) => s.type === type && s.status === "succeeded" && s.output);
  const builds = done("deliver.azure-pipeline").map((s) => ({ s, o: json.read<Out>(s.output) ?? {} }));
  const pushes = done("deliver.git").map((s): [unknown, ArtifactDelivery] => {
    const o = json.read<Out>(s.output) ?? {};
    return [
      fromStepOf(s),
      {
        stepId: s.id,
        remoteUrl: String(o.remoteUrl),
        branch: String(o.branch),
        commitSha: String(o.commitSha),
        pullRequest: link(o.pullRequest),
        builds: builds
          .filter((b) => fromStepOf(b.s) === s.id)
          .map((b) => ({
            stepId: b.s.id,
            pipeline: link(b.o.pipeline) as { id: string; url: string },
            build: link(b.o.build) as { id: string; url: string; result: string | null },
          })),
      },
    ];
  });
  return (stepId) => pushes.filter(([from]) => from === stepId).map(([, d]) => d);
}
