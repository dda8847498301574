/** Rows of the Run DO as the API shows them. */
import { stepFlowView } from "./step-flow-state";
import { flowView } from "./flow-row";
import type {
  ArtifactView,
  Json,
  JsonObject,
  RunOrigin,
  StepError,
  WireEvent,
  WireRun,
  WireStep,
} from "../../../schema/api";
import { json } from "../sqlite";
import { labelsOf, requesterOf } from "./labels";
import type { ArtifactRow, EventRow, RunRow, StepRow } from "./rows";
import type { ArtifactScan } from "../../../schema/scanning";
import type { Lineage } from "../../../schema/artifacts";
import type { RunStatus } from "../../../schema/vocabulary";
import { deliveriesOf } from "./delivered";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** What a waiting control-plane step waits for. */
const waitReason = (type: string) =>
  type === "approval" ? "approval" : type === "signal" ? "signal" : ("sleep" as const);

export function stepView(s: StepRow): WireStep {
  return {
    id: s.id,
    type: s.type,
    pool: s.pool,
    status: s.status,
    dependsOn: json.read<string[]>(s.depends_on) ?? [],
    attempts: s.attempt,
    queuedAt: iso(s.queued_at),
    startedAt: iso(s.started_at),
    finishedAt: iso(s.finished_at),
    durationMs: s.started_at !== null && s.finished_at !== null ? s.finished_at - s.started_at : null,
    error: json.read<StepError>(s.error),
    ...(s.status === "waiting" ? { waitReason: waitReason(s.type) } : {}),
    ...(s.flow !== null ? stepFlowView(s) : {}),
    ...(s.output !== null ? { output: json.read<Json>(s.output) } : {}),
  };
}

export function runView(r: RunRow, steps: StepRow[]): WireRun {
  return {
    id: r.id,
    project: r.project,
    blueprint: r.blueprint,
    status: r.status,
    traceId: r.trace_id,
    createdAt: new Date(r.created_at).toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    deadlineAt: iso(r.deadline_at),
    failurePolicy: r.failure_policy,
    priority: r.priority,
    retryOf: r.retry_of,
    retriedAs: r.retried_as,
    error: json.read<StepError>(r.error),
    origin:
      json.read<RunOrigin>(r.origin) ?? (r.retry_of ? { kind: "retry", id: r.retry_of } : { kind: "api", id: null }),
    archivedAt: null, // an archived run is read from its archive (archive-format.ts), not from here
    ...labelsOf(r),
    requestedBy: requesterOf(r.requested_by, json.read<RunOrigin>(r.origin)),
    ...flowView(r),
    steps: steps.map(stepView),
  };
}

/** The event envelope (`EventEnvelope`, schema/api.ts). The id is derived from run and sequence: unique and stable. */
export function eventView(r: RunRow, e: EventRow): WireEvent {
  return {
    eventId: `evt_${r.id.slice(4)}_${e.seq.toString().padStart(6, "0")}`,
    seq: e.seq,
    type: e.type,
    tenantId: r.tenant_id,
    projectId: r.project,
    runId: r.id,
    ...(e.step_id !== null ? { stepId: e.step_id } : {}),
    traceId: r.trace_id,
    occurredAt: new Date(e.occurred_at).toISOString(),
    data: json.read<JsonObject>(e.data) ?? {},
    // A labelled run's events (and so its webhooks) say its labels: receivers route by them.
    ...(r.labels !== null ? labelsOf(r) : {}),
  };
}

/**
 * Where each artifact came from: its run, step, attempt, job type, blueprint, trace, the sha256 of
 * the step's input, the artifacts (among `artifacts`) of the steps it depended on, and where the
 * run's delivery steps pushed it (external ids: remote, branch, commit, pull request, builds).
 */
export function lineages(run: RunRow, steps: StepRow[], artifacts: ArtifactRow[]): (a: ArtifactRow) => Lineage {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const deliveries = deliveriesOf(steps);
  return (a) => {
    const step = byId.get(a.step_id);
    const deps = new Set(json.read<string[]>(step?.depends_on ?? null) ?? []);
    const delivered = deliveries(a.step_id);
    return {
      runId: run.id,
      stepId: a.step_id,
      attempt: a.attempt,
      jobType: step?.type ?? "unknown",
      blueprint: run.blueprint,
      traceId: run.trace_id,
      inputSha256: a.input_sha256,
      upstream: artifacts
        .filter((u) => deps.has(u.step_id) && u.status !== "rejected")
        .map((u) => ({ name: u.name, stepId: u.step_id, sha256: u.sha256 })),
      ...(delivered.length ? { delivered } : {}),
    };
  };
}

/** An artifact as the API shows it; validated artifacts of a succeeded run are published. */
export function artifactView(a: ArtifactRow, runStatus: RunStatus, lineage: Lineage): ArtifactView {
  const scan = json.read<ArtifactScan>(a.scan);
  return {
    name: a.name,
    size: a.size,
    contentType: a.content_type,
    sha256: a.sha256,
    stepId: a.step_id,
    attempt: a.attempt,
    createdAt: new Date(a.created_at).toISOString(),
    status: a.status === "validated" && runStatus === "succeeded" ? "published" : a.status,
    flagged: a.status !== "rejected" && (scan?.findings.some((f) => !f.accepted) ?? false),
    scan,
    lineage,
  };
}
