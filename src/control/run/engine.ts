/**
 * The decisions of a run's control plane. Every method is synchronous and runs inside one
 * SQLite transaction of the Run DO, so a state change, its events, its timers and its outbox
 * rows (the intent to dispatch) commit together or not at all. Sending happens after commit.
 */
import type { Json, JsonObject } from "../../../schema/api";
import type { StepMessage } from "../../../schema/messages";
import { TERMINAL_RUN_STATUSES, type EventType, type PoolName } from "../../../schema/vocabulary";
import { WEBHOOK_EVENT_TYPES } from "../../../schema/webhooks";
import { deliveredData } from "./delivered";
import { json } from "../sqlite";
import { recordAttempt } from "../../analytics/usage";
import { hasQueues } from "../../../schema/pools";
import { dependents, validateGraph } from "./dag";
import { addSpawned, checkSpawn, insertStep } from "./steps";
import { lineages } from "./views";
import { decideFailure, transitionRun, transitionStep, type RunEvent, type StepEvent } from "./machine";
import type { OutboxKind, RunRow, StepRow, TimerRow } from "./rows";
import type { RunStore } from "./store";
import { resolveSpawn } from "../resolve";
import type { EngineConfig } from "./types";
import { type ErrorShape, type Refusal, refuse } from "../../../schema/errors";
import { DEFAULT_SCAN_POLICY, type RunScanning } from "../../../schema/scanning";
import type { PublishedArtifact } from "../../../schema/artifacts";
import type {
  Artifact,
  BeginResult,
  Continuation,
  Decider,
  DeciderKey,
  DecisionResult,
  GateDecision,
  NewRun,
  ReportResult,
  RunOutcome,
  SignalResult,
  StepReport,
  TenantSync,
} from "../../../schema/run";
import { GateEngine } from "./gate-engine";
import { runRetention } from "./archive-format";

export type HeartbeatResult = { ok: true } | Refusal;

/** Findings named in one `artifact.secret_detected` event; the artifact's metadata has up to 100. */
const MAX_EVENT_FINDINGS = 20;

/** The scanning a run's attempts apply: what it was created with, or the default. */
export function runScanning(run: RunRow): RunScanning {
  return json.read<RunScanning>(run.scanning) ?? { policy: DEFAULT_SCAN_POLICY, allow: [] };
}

const WEBHOOK_EVENTS: ReadonlySet<EventType> = new Set(WEBHOOK_EVENT_TYPES);
const FINAL_EVENTS: ReadonlySet<EventType> = new Set([...TERMINAL_RUN_STATUSES].map((s) => `run.${s}` as EventType));
const MAX_LOG_LINES = 50;
/** How long a step held by an open circuit breaker waits before it is dispatched again. */
const HOLD_DEFAULT_MS = 1_000;
const HOLD_MIN_MS = 50;
const HOLD_MAX_MS = 3_600_000;

export class RunEngine {
  /** Set while an opened run is created (see create). */
  private tenantKnows = false;

  private readonly gates: GateEngine;

  constructor(
    private readonly store: RunStore,
    private readonly config: EngineConfig,
  ) {
    this.gates = new GateEngine(store, config, {
      moveStep: (step, event, patch) => this.moveStep(step, event, patch),
      event: (type, now, stepId, data) => this.event(type, now, stepId, data),
      succeed: (step, output, now) => this.succeed(step, output, [], now),
      failStep: (step, error, now) => this.failStep(step, error, now),
    });
  }

  /**
   * Creates the run and dispatches its roots. Idempotent: a second call changes nothing.
   * A run the tenant opened (`spec.opened`) is in its index already and was admitted or not
   * there: it is started in this same transaction, with no status sync until it ends or moves
   * on from what the tenant recorded.
   */
  create(spec: NewRun, now: number): void {
    if (this.store.run()) return;
    if (!spec.opened) {
      this.createRun(spec, now);
      return;
    }
    this.tenantKnows = true;
    try {
      this.createRun(spec, spec.createdAt ?? now);
      if (spec.opened.start) this.admit(now);
    } finally {
      this.tenantKnows = false;
    }
  }

  private createRun(spec: NewRun, now: number): void {
    this.store.insertRun({
      id: spec.id,
      tenant_id: spec.tenantId,
      project: spec.project,
      blueprint: spec.blueprint,
      status: "requested",
      trace_id: spec.traceId,
      created_at: now,
      deadline_at: spec.deadlineMs ? now + spec.deadlineMs : null,
      failure_policy: spec.failurePolicy,
      priority: spec.priority,
      retry_of: spec.retryOf?.runId ?? null,
      scanning: spec.scanning ? json.write(spec.scanning) : null,
      retention: spec.retention ? json.write(spec.retention) : null,
      tenant_shard: spec.tenantShard ?? 0,
    });
    this.event("run.requested", now, null, {
      blueprint: spec.blueprint,
      steps: spec.steps.length,
      ...(spec.retryOf ? { retryOf: spec.retryOf.runId } : {}),
    });
    this.syncTenant(now);

    // The API validated already; the owner of the run checks again rather than trust its caller.
    const errors = validateGraph(spec.steps);
    if (errors.length > 0) {
      this.moveRun("reject", now, {
        code: "run.invalid_graph",
        message: errors.map((e) => e.message).join("; "),
        retryable: false,
      });
      return;
    }
    this.moveRun("validate", now);
    spec.steps.forEach((s, position) => {
      insertStep(this.store, s, position);
    });
    const retryOf = spec.retryOf;
    if (retryOf) {
      for (const [stepId, carried] of Object.entries(retryOf.carried)) {
        const step = this.store.step(stepId);
        if (!step) continue;
        this.recordArtifacts(step, carried.attempt, carried.artifacts, now);
        this.moveStep(step, "reuse", {
          output: json.write(carried.output),
          attempt: carried.attempt,
          finished_at: now,
        });
        this.event("step.reused", now, stepId, { fromRun: retryOf.runId, attempt: carried.attempt });
      }
      this.store.recountPendingDeps();
    }
    // The deadline counts from submission: time spent waiting for admission is part of it.
    if (spec.deadlineMs) this.store.setTimer("deadline", "run", now + spec.deadlineMs);
    this.moveRun("enqueue", now);
  }

  /** The tenant admitted the run (a concurrency slot is free): start dispatching. Idempotent. */
  admit(now: number): void {
    const run = this.store.run();
    if (run?.status !== "queued") return;
    this.moveRun("start", now);
    const ready = this.store.readyPending();
    for (const step of ready) this.dispatch(step, now);
    // Nothing to dispatch: every step may be done already (a retry that carried them all over).
    if (ready.length === 0) this.settleRun(now);
  }

  /** A worker picked up an attempt: fence it, mark it running, hand it its input. */
  begin(stepId: string, attempt: number, now: number): BeginResult {
    const found = this.current(stepId, attempt);
    if (!found.ok) return found;
    const { run, step } = found;
    if (step.status !== "queued") return refuse("attempt.duplicate", `attempt ${attempt} is already ${step.status}`);

    this.moveStep(step, "start", { started_at: step.started_at ?? now });
    this.store.setAttempt(stepId, attempt, "running", now);
    this.store.setTimer("lease", stepId, this.runningLease(step, now, now), attempt);
    this.event("step.started", now, stepId, { attempt });
    return {
      ok: true,
      input: json.read<JsonObject>(step.input) ?? {},
      upstream: this.store.outputs(json.read<string[]>(step.depends_on) ?? []),
      timeoutMs: step.timeout_ms,
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
  report(report: StepReport, now: number): ReportResult {
    const found = this.current(report.stepId, report.attempt);
    const step = found.ok ? found.step : null;
    if (step?.status !== "running") {
      const refusal = found.ok
        ? refuse("attempt.stale", `attempt ${report.attempt} is not running (${step?.status})`)
        : found;
      // Audit late and stale results, even after the run ended; unknown runs or steps leave no trace.
      if (found.ok || found.code === "attempt.stale" || found.code === "run.finished") {
        this.event("step.result_refused", now, report.stepId, { attempt: report.attempt, reason: refusal.message });
      }
      return refusal;
    }
    // The attempt is the current one: its logs and metered usage are part of the record.
    for (const line of (report.logs ?? []).slice(0, MAX_LOG_LINES))
      this.event("step.log", now, step.id, { attempt: step.attempt, ...line });
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
      const error = {
        code: "artifact.name_conflict",
        message: `artifact '${conflict.name}' was already produced by another step`,
        retryable: false,
      };
      this.failAttempt(step, error, "failed", now);
      return { ok: true };
    }
    // The run resolves what a step spawned against the job catalog: a worker asks for steps,
    // it does not choose their pool, retry policy or timeout.
    const resolved = report.spawn?.length ? resolveSpawn(report.spawn, this.config.resolve) : null;
    const spawned = resolved?.ok ? resolved.steps : [];
    const spawnError =
      resolved && !resolved.ok ? resolved.message : spawned.length ? checkSpawn(this.store, step, spawned) : null;
    if (spawnError) {
      this.failAttempt(step, { code: "spawn.invalid", message: spawnError, retryable: false }, "failed", now);
      return { ok: true };
    }
    if (spawned.length > 0) {
      addSpawned(this.store, step, spawned);
      this.event("step.spawned", now, step.id, {
        count: spawned.length,
        steps: spawned.slice(0, 50).map((x) => x.id),
      });
    }
    this.succeed(step, report.output, report.artifacts, now);
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

  cancel(now: number): ReportResult {
    return this.control("cancel", now, () => this.stopUnfinished(now));
  }

  /** No new dispatches; attempts already sent may still run and finish. */
  pause(now: number): ReportResult {
    return this.control("pause", now);
  }

  /** Sends everything a pause held back. */
  resume(now: number): ReportResult {
    return this.control("resume", now, () => {
      for (const step of this.store.stepsWithStatus(["retrying"])) {
        if (!this.store.hasTimer("backoff", step.id)) this.dispatch(step, now);
      }
      for (const step of this.store.readyPending()) this.dispatch(step, now);
    });
  }

  /** Handles one due timer row. Rows that no longer match the step's attempt are ignored. */
  fire(timer: TimerRow, now: number): void {
    this.store.clearTimer(timer.kind, timer.ref);
    const run = this.store.run();
    if (!run || TERMINAL_RUN_STATUSES.has(run.status)) return;
    if (timer.kind === "deadline") {
      this.failRun({ code: "run.deadline_exceeded", message: "the run passed its deadline", retryable: false }, now);
      return;
    }
    if (timer.kind === "outbox") return; // the DO flushes after every alarm
    const step = this.store.step(timer.ref);
    if (timer.kind === "wait") {
      if (step?.status === "waiting") this.gates.expire(step, now);
      return;
    }
    if (!step || step.attempt !== timer.attempt) return;
    if (timer.kind === "backoff" && step.status === "retrying") {
      if (run.status === "running") this.dispatch(step, now);
      else this.event("step.held", now, step.id, { reason: "run paused" });
    } else if (timer.kind === "lease" && step.status === "queued") {
      // Never picked up: the message was lost (a restarted local broker, say). Send it again.
      this.store.setAttempt(step.id, step.attempt, "lost", now);
      this.event("step.lease_expired", now, step.id, { attempt: step.attempt, phase: "queued" });
      // Attempts held by an open circuit breaker were dispatched and answered: not lost messages.
      if (step.attempt - step.holds >= step.max_attempts + this.config.lostBudget) {
        this.failStep(
          step,
          { code: "step.undeliverable", message: `no worker picked up ${step.attempt} dispatches`, retryable: false },
          now,
        );
      } else if (run.status === "running") {
        this.dispatch(step, now);
      } else {
        this.moveStep(step, "retry", {});
        this.event("step.held", now, step.id, { reason: "run paused" });
      }
    } else if (timer.kind === "lease" && step.status === "running") {
      this.event("step.lease_expired", now, step.id, { attempt: step.attempt, phase: "running" });
      const error = {
        code: "step.timeout",
        message: `no result or heartbeat in time (timeout ${step.timeout_ms} ms)`,
        retryable: true,
      };
      this.failAttempt(step, error, "timed_out", now);
    }
  }

  // ── gates: approvals and signals (gate-engine.ts) ──────────────────────────

  /** A decision on an approval gate (`GateEngine.decide`: the first one wins). */
  decide(
    stepId: string,
    decision: GateDecision,
    by: Decider,
    key: DeciderKey | null,
    comment: string | null,
    now: number,
  ): DecisionResult {
    return this.gates.decide(stepId, decision, by, key, comment, now);
  }

  /** A signal for the run: completes the steps waiting for `name`, or is kept for the one that will. */
  signal(name: string, body: Json, by: Decider, now: number): SignalResult {
    return this.gates.signal(name, body, by, now);
  }

  // ── internals ──────────────────────────────────────────────────────────────

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

  /** A run control: check the transition, apply what comes with it, move the run. */
  private control(event: RunEvent, now: number, apply?: () => void): ReportResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const t = transitionRun(run.status, event);
    if (!t.ok) return refuse(t.code, t.message);
    if (event === "resume") this.moveRun(event, now);
    apply?.();
    if (event !== "resume") this.moveRun(event, now);
    return { ok: true };
  }

  /** A running attempt's lease: its timeout, or sooner when it must heartbeat. */
  private runningLease(step: StepRow, startedAt: number, now: number): number {
    const deadline = startedAt + step.timeout_ms + this.config.leaseGraceMs;
    return step.heartbeat_timeout_ms
      ? Math.min(deadline, now + step.heartbeat_timeout_ms + this.config.leaseGraceMs)
      : deadline;
  }

  private dispatch(step: StepRow, now: number): void {
    if (step.pool === "control") {
      this.gates.wait(step, now);
      return;
    }
    const run = this.store.existingRun();
    const attempt = step.attempt + 1;
    this.moveStep(step, "dispatch", { attempt, queued_at: step.queued_at ?? now });
    this.store.insertAttempt(step.id, attempt, now);
    this.store.setTimer("lease", step.id, now + this.config.leaseQueuedMs, attempt);
    const message: StepMessage = {
      v: 1,
      runId: run.id,
      tenantId: run.tenant_id,
      stepId: step.id,
      attempt,
      type: step.type,
      pool: step.pool,
      traceId: run.trace_id,
    };
    this.enqueue("dispatch", step.pool, message, now);
    this.event("step.queued", now, step.id, { attempt });
  }

  private recordArtifacts(step: StepRow, attempt: number, artifacts: Artifact[], now: number): void {
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
        this.event("artifact.scanned", now, step.id, {
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
          this.event("artifact.secret_detected", now, step.id, {
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
        this.event("artifact.created", now, step.id, { name: a.name, size: a.size, sha256: a.sha256, attempt });
    }
  }

  private succeed(step: StepRow, output: Json, artifacts: Artifact[], now: number): void {
    this.recordArtifacts(step, step.attempt, artifacts, now);
    this.moveStep(step, "succeed", { output: json.write(output ?? null), error: null, finished_at: now });
    if (step.pool !== "control") this.store.setAttempt(step.id, step.attempt, "succeeded", now);
    this.store.clearStepTimers(step.id);
    this.event("step.succeeded", now, step.id, { attempt: step.attempt, durationMs: now - (step.started_at ?? now) });
    if (step.pool === "delivery") this.event("run.delivered", now, step.id, deliveredData(output));
    const ready = this.store.releaseDependents(step.id);
    const dispatching = this.store.existingRun().status === "running" ? ready : [];
    for (const next of dispatching) this.dispatch(next, now);
    // A step just dispatched is unfinished: the run cannot have ended.
    if (dispatching.length === 0) this.settleRun(now);
  }

  private failAttempt(step: StepRow, error: ErrorShape, how: "failed" | "timed_out", now: number): void {
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
      this.moveStep(step, "retry", { failures, error: json.write(error) });
      this.store.setTimer("backoff", step.id, now + decision.delayMs, step.attempt);
      this.event("step.retrying", now, step.id, {
        attempt: step.attempt,
        error,
        delayMs: decision.delayMs,
        nextAttemptAt: new Date(now + decision.delayMs).toISOString(),
      });
      return;
    }
    this.failStep({ ...step, failures }, error, now);
  }

  /**
   * The attempt met an open circuit breaker: it ends `held` and the step waits to be dispatched
   * again, its failures (the retry policy's count) unchanged. The run's deadline still applies.
   */
  private hold(step: StepRow, error: ErrorShape, now: number): void {
    this.store.setAttempt(step.id, step.attempt, "held", now, error);
    this.store.clearStepTimers(step.id);
    this.moveStep(step, "retry", { holds: step.holds + 1 });
    const delayMs = Math.min(Math.max(error.retryAfterMs ?? HOLD_DEFAULT_MS, HOLD_MIN_MS), HOLD_MAX_MS);
    this.store.setTimer("backoff", step.id, now + delayMs, step.attempt);
    this.event("step.held", now, step.id, {
      attempt: step.attempt,
      reason: "circuit.open",
      dependency: error.dependency ?? null,
      until: new Date(now + delayMs).toISOString(),
    });
  }

  private failStep(step: StepRow, error: ErrorShape, now: number): void {
    this.moveStep(step, "fail", { failures: step.failures, error: json.write(error), finished_at: now });
    this.store.clearStepTimers(step.id);
    this.event("step.failed", now, step.id, { attempt: step.attempt, error });
    if (this.store.existingRun().failure_policy === "fail-fast") {
      this.failRun(
        { code: "run.step_failed", message: `step '${step.id}' failed: ${error.message}`, retryable: false },
        now,
      );
      return;
    }
    // continue: what needs this step can never run; independent branches go on.
    const doomed = new Set(
      dependents(
        this.store.steps().map((s) => ({ id: s.id, dependsOn: json.read<string[]>(s.depends_on) ?? [] })),
        step.id,
      ),
    );
    for (const s of this.store.stepsWithStatus(["pending"])) {
      if (!doomed.has(s.id)) continue;
      this.moveStep(s, "skip", { finished_at: now });
      this.event("step.skipped", now, s.id, { because: step.id });
    }
    this.settleRun(now);
  }

  /** Ends the run once no step can change any more: succeeded if none failed. */
  private settleRun(now: number): void {
    const run = this.store.existingRun();
    if (TERMINAL_RUN_STATUSES.has(run.status)) return;
    const { unfinished, failed } = this.store.settlement();
    if (unfinished > 0) return;
    this.store.clearTimer("deadline", "run");
    if (failed.length === 0) this.moveRun("succeed", now);
    else
      this.moveRun("fail", now, {
        code: "run.step_failed",
        message: `${failed.length} step(s) failed: ${failed.join(", ")}`,
        retryable: false,
      });
  }

  private failRun(error: ErrorShape, now: number): void {
    this.stopUnfinished(now);
    this.store.clearTimer("deadline", "run");
    this.moveRun("fail", now, error);
  }

  /** Pending steps are skipped; queued, running, retrying and waiting ones are cancelled (late results are refused). */
  private stopUnfinished(now: number): void {
    for (const step of this.store.stepsWithStatus(["pending", "queued", "running", "retrying", "waiting"])) {
      const event: StepEvent = step.status === "pending" ? "skip" : "cancel";
      this.moveStep(step, event, { finished_at: now });
      this.store.clearStepTimers(step.id);
      if (step.status === "queued" || step.status === "running")
        this.store.setAttempt(step.id, step.attempt, "superseded", now);
      // A gate that stops waiting is news to the tenant's approval list (and to whoever would decide).
      const gate = step.status === "waiting" ? { gate: step.type } : {};
      this.event(event === "skip" ? "step.skipped" : "step.cancelled", now, step.id, gate);
    }
  }

  private moveStep(step: StepRow, event: StepEvent, patch: Partial<StepRow>): void {
    const t = transitionStep(step.status, event);
    if (!t.ok) throw new Error(`${t.code}: ${t.message} (${step.id})`); // a bug, never user input
    this.store.updateStep(step.id, { ...patch, status: t.to });
  }

  private moveRun(event: RunEvent, now: number, error: ErrorShape | null = null): void {
    const run = this.store.existingRun();
    const t = transitionRun(run.status, event);
    if (!t.ok) throw new Error(`${t.code}: ${t.message}`); // a bug, never user input
    this.store.setRunStatus(t.to, now, error);
    // The run's last timer: when its hot period ends, the object archives it and empties itself.
    if (TERMINAL_RUN_STATUSES.has(t.to)) this.store.setTimer("archive", "run", now + runRetention(run).hotMs);
    const type: EventType =
      t.to === "running" ? (run.status === "paused" ? "run.resumed" : "run.started") : (`run.${t.to}` as EventType);
    this.event(type, now, null, error ? { error } : {});
    this.syncTenant(now);
  }

  private syncTenant(now: number): void {
    const run = this.store.existingRun();
    // While an opened run is created, the tenant already holds what these syncs would say;
    // an ending (an invalid graph) is still news.
    if (this.tenantKnows && !TERMINAL_RUN_STATUSES.has(run.status)) return;
    const sync: TenantSync = {
      runId: run.id,
      project: run.project,
      blueprint: run.blueprint,
      status: run.status,
      priority: run.priority,
      createdAt: run.created_at,
      at: now,
      version: this.store.lastEventSeq(),
      ...(TERMINAL_RUN_STATUSES.has(run.status)
        ? { usage: this.store.usage(), outcome: this.outcome(run, now), storage: this.storage() }
        : {}),
      ...(run.status === "succeeded" ? this.published(run) : {}),
    };
    this.enqueue("tenant", null, sync, now);
  }

  /**
   * What the finished run holds, for the tenant's storage figures: its database as it stands before
   * this last transaction's writes (a page or two short), and the bytes its attempts wrote under
   * its R2 prefix (artifacts carried over from a retried run stay under that run's).
   */
  private storage(): { stateBytes: number; artifactBytes: number } {
    return { stateBytes: this.store.databaseSize(), artifactBytes: this.store.usage().artifactBytes };
  }

  /** A succeeded run's artifacts with their lineage, for the tenant to version (none: nothing to say). */
  private published(run: RunRow): { published?: PublishedArtifact[] } {
    const rows = this.store.artifacts().filter((a) => a.status !== "rejected");
    if (rows.length === 0) return {};
    const lineage = lineages(run, this.store.steps(), rows);
    return {
      published: rows.map((a) => ({
        name: a.name,
        key: a.r2_key,
        size: a.size,
        contentType: a.content_type,
        sha256: a.sha256,
        lineage: lineage(a),
      })),
    };
  }

  private outcome(run: RunRow, now: number): RunOutcome {
    const end = run.finished_at ?? now;
    return {
      durationMs: end - run.created_at,
      queuedMs: (run.started_at ?? end) - run.created_at,
      errorCode: json.read<ErrorShape>(run.error)?.code ?? null,
    };
  }

  /** An outbox row, and the timer that re-sends it if the send after commit never happens. */
  private enqueue(kind: OutboxKind, pool: PoolName | null, body: unknown, now: number): void {
    this.store.enqueue(kind, pool, body);
    this.store.setTimer("outbox", "flush", now + this.config.outboxRetryMs);
  }

  private event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void {
    const seq = this.store.appendEvent(type, now, stepId, data);
    // Written with the event, in its transaction: the webhook fan-out cannot miss it.
    if (WEBHOOK_EVENTS.has(type)) {
      this.enqueue("webhook", null, seq, now);
      // A run's end flushes at once, with whatever waited; every other event may wait to share one call to the tenant.
      const wait = FINAL_EVENTS.has(type) ? 0 : (this.config.webhookBatchMs ?? 0);
      this.store.setTimerNoLater("outbox", "webhooks", now + wait);
    }
  }
}
