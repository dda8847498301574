/** Retrying a failed or cancelled run: what the new run needs from the old one. */
import { stepFlowKeys } from "./step-flow-state";
import type { Json, JsonObject } from "../../../schema/api";
import { json } from "../sqlite";
import { type Refusal, refuse } from "../../../schema/errors";
import type { StepRow } from "./rows";
import type { RunStore } from "./store";
import type { Artifact, CarriedStep, ControlActor, NewRun, ResolvedStep } from "../../../schema/run";
import type { ArtifactScan, RunScanning } from "../../../schema/scanning";
import type { RunRetention } from "../../../schema/retention";
import { must } from "../../lib/must";
import { labelsOf } from "./labels";
import { flowKeys } from "./flow-row";
import type { PinnedJobType } from "../../../schema/workers";

export type RetrySource = { ok: true; spec: Omit<NewRun, "id" | "traceId">; existing: string | null } | Refusal;

/**
 * The old run's steps, and the ones that succeeded with their outputs and artifacts (the new
 * run points at the same R2 bytes). Records `newRunId` as the retry once; later calls return it.
 */
export function retrySource(store: RunStore, newRunId: string, now: number, actor?: ControlActor): RetrySource {
  const run = store.run();
  if (!run) return refuse("run.not_found", "no such run");
  if (run.status !== "failed" && run.status !== "cancelled") {
    return refuse("run.not_retryable", `a ${run.status} run cannot be retried; only failed or cancelled runs can`);
  }
  const steps = store.steps();
  const artifacts = store.artifacts();
  const carried: Record<string, CarriedStep> = {};
  for (const s of steps.filter((x) => x.status === "succeeded")) {
    carried[s.id] = {
      output: json.read<Json>(s.output),
      attempt: s.attempt,
      artifacts: artifacts
        .filter((a) => a.step_id === s.id)
        .map(
          (a): Artifact => ({
            name: a.name,
            key: a.r2_key,
            size: a.size,
            contentType: a.content_type,
            sha256: a.sha256,
            status: a.status,
            ...(a.input_sha256 ? { inputSha256: a.input_sha256 } : {}),
            ...(a.scan ? { scan: must(json.read<ArtifactScan>(a.scan), "an artifact's scan") } : {}),
          }),
        ),
    };
  }
  const existing = run.retried_as;
  if (!existing) {
    store.setRetriedAs(newRunId);
    store.appendEvent("run.retried", now, null, { retryRunId: newRunId, ...(actor ? { by: actor } : {}) });
  }
  return {
    ok: true,
    existing,
    spec: {
      tenantId: run.tenant_id,
      project: run.project,
      blueprint: run.blueprint,
      failurePolicy: run.failure_policy,
      priority: run.priority,
      steps: steps.map(resolvedStep),
      retryOf: { runId: run.id, carried },
      // The retry is indexed where its source is (a run's shard is fixed when it opens).
      ...(run.tenant_shard > 0 ? { tenantShard: run.tenant_shard } : {}),
      ...(run.scanning ? { scanning: must(json.read<RunScanning>(run.scanning), "the run's scanning policy") } : {}),
      // The retry keeps its source's labels: a search for them finds it.
      ...labelsOf(run),
      // ...and its concurrency keys: a retry of a delivery to a repository still queues behind the others.
      ...flowKeys(run),
      ...(run.collector ? { collector: true } : {}),
      // The retry keeps its source's retention, as it keeps its scanning policy.
      ...(run.retention ? { retention: must(json.read<RunRetention>(run.retention), "the run's retention") } : {}),
    },
  };
}

function resolvedStep(s: StepRow): ResolvedStep {
  return {
    id: s.id,
    type: s.type,
    pool: s.pool,
    input: json.read<JsonObject>(s.input) ?? {},
    dependsOn: json.read<string[]>(s.depends_on) ?? [],
    retry: { maxAttempts: s.max_attempts, initialDelayMs: s.initial_delay_ms, maxDelayMs: s.max_delay_ms },
    timeoutMs: s.timeout_ms,
    ...(s.heartbeat_timeout_ms ? { heartbeatTimeoutMs: s.heartbeat_timeout_ms } : {}),
    // A retry re-runs the version the run pinned, not the newest.
    ...(s.worker ? { worker: json.read<PinnedJobType>(s.worker) as PinnedJobType } : {}),
    ...(s.flow ? { flow: stepFlowKeys(s.flow) } : {}),
  };
}
