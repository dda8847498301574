/**
 * Attempts: what a worker's attempt at a step does to the run. Called by the engine (engine.ts)
 * inside its transactions: a consumer begins an attempt, heartbeats it, reports its outcome (or
 * the queue dead-letters it), and a lease that runs out fails it. The step and run changes go
 * through the engine's own moves (`AttemptOps`), so an attempt succeeds or fails a step exactly
 * as a gate does (gate-engine.ts).
 */
import type { ExternalCallRecord } from "../../../schema/run";
import { EXTERNAL_CALL } from "./spans";
import type { Json, JsonObject } from "../../../schema/api";
import type { ErrorShape, Refusal } from "../../../schema/errors";
import { refuse } from "../../../schema/errors";
import type { StepMessage } from "../../../schema/messages";
import { hasQueues } from "../../../schema/pools";
import type { Artifact, BeginResult, Continuation, ReportResult, StepReport } from "../../../schema/run";
import { DEFAULT_SCAN_POLICY, type RunScanning } from "../../../schema/scanning";
import { TERMINAL_RUN_STATUSES, type EventType, type PoolName } from "../../../schema/vocabulary";
import { recordAttempt } from "../../analytics/usage";
import { resolveSpawn } from "../resolve";
import type { TenantJob } from "../tenant-jobs";
import { json } from "../sqlite";
import { decideFailure, type StepEvent } from "./machine";
import type { RunRow, StepRow } from "./rows";
import { addSpawned, checkSpawn } from "./steps";
import type { RunStore } from "./store";
import type { EngineConfig } from "./types";
import { releaseAttempt, type ReleaseResult } from "./release";

export type HeartbeatResult = { ok: true } | Refusal;

/** Findings named in one `artifact.secret_detected` event; the artifact's metadata has up to 100. */
const MAX_EVENT_FINDINGS = 20;
const MAX_LOG_LINES = 50;
const MAX_CALLS = 20;

/** An outgoing call as the run's log keeps it (message EXTERNAL_CALL; spans.ts reads it back). */
const callLine = (attempt: number, c: ExternalCallRecord) => ({
  attempt,
  level: c.error ? "warn" : "info",
  message: EXTERNAL_CALL,
  fields: {
    service: String(c.service).slice(0, 64),
    n: Number(c.n),
    startMs: Number(c.startMs),
    endMs: Number(c.endMs),
    ...(c.error ? { error: String(c.error).slice(0, 200) } : {}),
  },
});
/** How long a step held by an open circuit breaker waits before it is dispatched again. */
const HOLD_DEFAULT_MS = 1_000;
const HOLD_MIN_MS = 50;
const HOLD_MAX_MS = 3_600_000;

/** The scanning a run's attempts apply: what it was created with, or the default. */
export function runScanning(run: RunRow): RunScanning {
  return json.read<RunScanning>(run.scanning) ?? { policy: DEFAULT_SCAN_POLICY, allow: [] };
}

/** What an attempt needs of the engine: its step moves, its event log, and a step's ending. */
export interface AttemptOps {
  moveStep(step: StepRow, event: StepEvent, patch: Partial<StepRow>): void;
  event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void;
  succeed(step: StepRow, output: Json, artifacts: Artifact[], now: number): void;
  failStep(step: StepRow, error: ErrorShape, now: number): void;
}

export class AttemptEngine {
  constructor(
    private readonly store: RunStore,
    private readonly config: EngineConfig,
    private readonly ops: AttemptOps,
  ) {}

  /** A worker picked up an attempt: fence it, mark it running, hand it its input. */
  begin(stepId: string, attempt: number, now: number): BeginResult {
    const found = this.current(stepId, attempt);
    if (!found.ok) return found;
    const { run, step } = found;
    if (step.status !== "queued") return refuse("attempt.duplicate", `attempt ${attempt} is already ${step.status}`);

    this.ops.moveStep(step, "start", { started_at: step.started_at ?? now });
    this.store.setAttempt(stepId, attempt, "running", now);
    this.store.setTimer("lease", stepId, this.runningLease(step, now, now), attempt);
    this.ops.event("step.started", now, stepId, { attempt });
    return {
      ok: true,
      input: json.read<JsonObject>(step.input) ?? {},
      upstream: this.store.outputs(json.read<string[]>(step.depends_on) ?? []),
      timeoutMs: step.timeout_ms,
      ...(step.heartbeat_timeout_ms ? { heartbeatTimeoutMs: step.heartbeat_timeout_ms } : {}),
      tenantId: run.tenant_id,
      traceId: run.trace_id,
      scanning: runScanning(run),
    };
  }

  /** A running attempt says it is alive: its lease moves forward (never past its timeout). */
  heartbeat(stepId: string, attempt: number, now: number): HeartbeatResult {
    const found = this.current(stepId, attempt);
    if (!found.ok) return found;
    const { step } = found;
    if (step.status !== "running") return refuse("attempt.not_running", `the step is ${step.status}`);
    const started = this.store.attemptStartedAt(stepId, attempt) ?? now;
    this.store.setTimer("lease", stepId, this.runningLease(step, started, now), attempt);
    return { ok: true };
  }

  /** A worker's result. Anything for an attempt other than the current running one is refused. */
  report(report: StepReport, now: number, tenantJobs?: ReadonlyMap<string, TenantJob>): ReportResult {
    const found = this.current(report.stepId, report.attempt);
    const step = found.ok ? found.step : null;
    if (step?.status !== "running") {
      const refusal = found.ok
        ? refuse("attempt.stale", `attempt ${report.attempt} is not running (${step?.status})`)
        : found;
      // Audit late and stale results, even after the run ended; unknown runs or steps leave no trace.
      if (found.ok || found.code === "attempt.stale" || found.code === "run.finished") {
        this.ops.event("step.result_refused", now, report.stepId, { attempt: report.attempt, reason: refusal.message });
      }
      return refusal;
    }
    // The attempt is the current one: its logs and metered usage are part of the record.
    for (const line of (report.logs ?? []).slice(0, MAX_LOG_LINES))
      this.ops.event("step.log", now, step.id, { attempt: step.attempt, ...line });
    // Its outgoing calls, timed, are log lines of their own: the trace's external spans (spans.ts).
    for (const call of (report.calls ?? []).slice(0, MAX_CALLS))
      this.ops.event("step.log", now, step.id, callLine(step.attempt, call));
    const artifacts = report.outcome === "succeeded" ? report.artifacts.length : 0;
    this.store.setAttemptUsage(
      step.id,
      step.attempt,
      recordAttempt(report.usage, { viaQueue: hasQueues(step.pool), artifacts }),
    );
    if (report.outcome === "failed" && report.error.code === "dependency.circuit_open") {
      this.hold(step, report.error, now);
      return { ok: true };
    }
    if (report.outcome === "failed") {
      // A rejected artifact is listed (with its findings, without bytes) so that its download
      // can say why it is refused.
      const rejected = (report.rejected ?? []).filter((a) => a.status === "rejected");
      const conflict = rejected.some((a) => (this.store.artifact(a.name)?.step_id ?? step.id) !== step.id);
      if (!conflict) this.recordArtifacts(step, step.attempt, rejected, now);
      this.failAttempt(step, report.error, "failed", now);
      return { ok: true };
    }
    const conflict = report.artifacts.find((a) => {
      const existing = this.store.artifact(a.name);
      return existing !== null && existing.step_id !== step.id;
    });
    if (conflict) {
      const error: ErrorShape = {
        code: "artifact.name_conflict",
        message: `artifact '${conflict.name}' was already produced by another step`,
        retryable: false,
      };
      this.failAttempt(step, error, "failed", now);
      return { ok: true };
    }
    // The run resolves what a step spawned against the job catalog: a worker asks for steps,
    // it does not choose their pool, retry policy or timeout.
    const resolved = report.spawn?.length ? resolveSpawn(report.spawn, this.config.resolve, tenantJobs) : null;
    const spawned = resolved?.ok ? resolved.steps : [];
    const spawnError =
      resolved && !resolved.ok ? resolved.message : spawned.length ? checkSpawn(this.store, step, spawned) : null;
    if (spawnError) {
      this.failAttempt(step, { code: "spawn.invalid", message: spawnError, retryable: false }, "failed", now);
      return { ok: true };
    }
    if (spawned.length > 0) {
      addSpawned(this.store, step, spawned);
      this.ops.event("step.spawned", now, step.id, {
        count: spawned.length,
        steps: spawned.slice(0, 50).map((x) => x.id),
      });
    }
    this.ops.succeed(step, report.output, report.artifacts, now);
    return { ok: true };
  }

  /**
   * Runs the next step in the reporter's pool without a queue trip: takes a dispatch that this
   * transaction wrote for `pool` (after outbox row `afterOutboxId`) and begins it exactly as a
   * consumer's begin would. The attempt is fenced and leased like any other; if the reporter
   * dies with it, the running lease re-dispatches it through the queue.
   */
  continueIn(pool: PoolName, afterOutboxId: number, now: number): Continuation | null {
    const row = this.store.dispatchSince(pool, afterOutboxId);
    if (!row) return null;
    const message = JSON.parse(row.body) as StepMessage;
    const begun = this.begin(message.stepId, message.attempt, now);
    if (!begun.ok) return null;
    this.store.deleteOutbox([row.id]);
    return { message, begun };
  }

  /** A worker gives its running attempt back: the step goes out again at once (release.ts). */
  release(stepId: string, attempt: number, now: number): ReleaseResult {
    const found = this.current(stepId, attempt);
    return found.ok ? releaseAttempt(this.store, this.ops, found.step, now) : found;
  }

  /** The queue gave up on a message: the attempt failed, and the step's policy decides what next. */
  deadLettered(stepId: string, attempt: number, now: number): ReportResult {
    const found = this.current(stepId, attempt);
    if (!found.ok) return found;
    if (found.step.status !== "queued" && found.step.status !== "running")
      return refuse("attempt.stale", "the attempt is no longer current");
    this.failAttempt(
      found.step,
      { code: "step.dead_lettered", message: "the queue dead-lettered the attempt", retryable: true },
      "failed",
      now,
    );
    return { ok: true };
  }

  /** The run and the step, if `attempt` is the step's current attempt of a live run. */
  private current(
    stepId: string,
    attempt: number,
  ): { ok: true; run: NonNullable<ReturnType<RunStore["run"]>>; step: StepRow } | Refusal {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    if (TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.finished", `the run is ${run.status}`);
    const step = this.store.step(stepId);
    if (!step) return refuse("step.not_found", `no step '${stepId}'`);
    if (step.attempt !== attempt)
      return refuse("attempt.stale", `attempt ${attempt} was superseded by ${step.attempt}`);
    return { ok: true, run, step };
  }

  /** A running attempt's lease: its timeout, or sooner when it must heartbeat. */
  private runningLease(step: StepRow, startedAt: number, now: number): number {
    const deadline = startedAt + step.timeout_ms + this.config.leaseGraceMs;
    return step.heartbeat_timeout_ms
      ? Math.min(deadline, now + step.heartbeat_timeout_ms + this.config.leaseGraceMs)
      : deadline;
  }

  recordArtifacts(step: StepRow, attempt: number, artifacts: Artifact[], now: number): void {
    for (const a of artifacts) {
      if (this.store.artifact(a.name)) continue; // same step, an earlier attempt already recorded it
      this.store.insertArtifact({
        name: a.name,
        step_id: step.id,
        attempt,
        r2_key: a.key,
        size: a.size,
        content_type: a.contentType,
        sha256: a.sha256,
        created_at: now,
        status: a.status ?? "generated",
        scan: a.scan ? json.write(a.scan) : null,
        input_sha256: a.inputSha256 ?? null,
      });
      const scan = a.scan;
      if (scan) {
        this.ops.event("artifact.scanned", now, step.id, {
          name: a.name,
          attempt,
          status: a.status ?? "generated",
          state: scan.state,
          files: scan.files,
          bytes: scan.bytes,
          findings: scan.findingsCount,
          notScanned: scan.notScannedCount,
          durationMs: scan.durationMs,
        });
        if (scan.findingsCount > 0)
          // Rule, file, line, column and fingerprint: never the matched text.
          this.ops.event("artifact.secret_detected", now, step.id, {
            name: a.name,
            attempt,
            status: a.status ?? "generated",
            policy: scan.policy,
            findings: scan.findings.slice(0, MAX_EVENT_FINDINGS).map((f) => ({
              ruleId: f.ruleId,
              file: f.file,
              line: f.line,
              column: f.column,
              fingerprint: f.fingerprint,
              accepted: f.accepted,
            })),
          });
      }
      if (a.status !== "rejected")
        this.ops.event("artifact.created", now, step.id, { name: a.name, size: a.size, sha256: a.sha256, attempt });
    }
  }

  failAttempt(step: StepRow, error: ErrorShape, how: "failed" | "timed_out", now: number): void {
    const failures = step.failures + 1;
    this.store.setAttempt(step.id, step.attempt, how, now, error);
    this.store.clearStepTimers(step.id);
    const policy = {
      maxAttempts: step.max_attempts,
      initialDelayMs: step.initial_delay_ms,
      maxDelayMs: step.max_delay_ms,
    };
    const decision = decideFailure(policy, failures, error);
    if (decision.kind === "retry") {
      this.ops.moveStep(step, "retry", { failures, error: json.write(error) });
      this.store.setTimer("backoff", step.id, now + decision.delayMs, step.attempt);
      this.ops.event("step.retrying", now, step.id, {
        attempt: step.attempt,
        error,
        delayMs: decision.delayMs,
        nextAttemptAt: new Date(now + decision.delayMs).toISOString(),
      });
      return;
    }
    this.ops.failStep({ ...step, failures }, error, now);
  }

  /**
   * The attempt met an open circuit breaker: it ends `held` and the step waits to be dispatched
   * again, its failures (the retry policy's count) unchanged. The run's deadline still applies.
   */
  private hold(step: StepRow, error: ErrorShape, now: number): void {
    this.store.setAttempt(step.id, step.attempt, "held", now, error);
    this.store.clearStepTimers(step.id);
    this.ops.moveStep(step, "retry", { holds: step.holds + 1 });
    const delayMs = Math.min(Math.max(error.retryAfterMs ?? HOLD_DEFAULT_MS, HOLD_MIN_MS), HOLD_MAX_MS);
    this.store.setTimer("backoff", step.id, now + delayMs, step.attempt);
    this.ops.event("step.held", now, step.id, {
      attempt: step.attempt,
      reason: "circuit.open",
      dependency: error.dependency ?? null,
      until: new Date(now + delayMs).toISOString(),
    });
  }
}
