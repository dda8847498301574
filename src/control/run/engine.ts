/**
 * The decisions of a run's control plane. Every method is synchronous and runs inside one
 * SQLite transaction of the Run DO, so a state change, its events, its timers and its outbox
 * rows (the intent to dispatch) commit together or not at all. Sending happens after commit.
 */
import type { Json, JsonObject } from "../../../schema/api";
import type { StepMessage } from "../../../schema/messages";
import { TERMINAL_RUN_STATUSES, type EventType, type PoolName } from "../../../schema/vocabulary";
import type { ErrorShape } from "../../errors";
import { json } from "../sqlite";
import { validateGraph } from "./dag";
import { decideFailure, transitionRun, transitionStep, type RunEvent, type StepEvent } from "./machine";
import type { RunRow, RunStore, StepRow, TimerRow } from "./store";

export interface EngineConfig {
  /** How long a dispatched attempt may wait to be picked up before it is presumed lost. */
  leaseQueuedMs: number;
  /** Slack past a step's timeout before a started attempt is presumed dead. */
  leaseGraceMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** When the alarm re-sends outbox rows that were not confirmed sent. */
  outboxRetryMs: number;
  /** Extra dispatches allowed beyond maxAttempts for attempts lost before they started. */
  lostBudget: number;
}

export interface ResolvedStep {
  id: string;
  type: string;
  pool: PoolName;
  input: JsonObject;
  dependsOn: string[];
  maxAttempts: number;
  timeoutMs: number;
}

export interface NewRun {
  id: string;
  tenantId: string;
  project: string;
  blueprint: string | null;
  traceId: string;
  deadlineMs?: number;
  steps: ResolvedStep[];
}

export interface ArtifactReport {
  name: string;
  key: string;
  size: number;
  contentType: string;
  sha256: string;
}

export type StepReport =
  | { stepId: string; attempt: number; outcome: "succeeded"; output: Json; artifacts: ArtifactReport[] }
  | { stepId: string; attempt: number; outcome: "failed"; error: ErrorShape };

export type Refusal = { ok: false; code: string; message: string };

export type BeginResult =
  | {
      ok: true;
      input: JsonObject;
      upstream: JsonObject;
      timeoutMs: number;
      tenantId: string;
      traceId: string;
    }
  | Refusal;

export type ReportResult = { ok: true } | Refusal;

/** Sent to the tenant's object so its run index follows the run; `version` orders them. */
export interface TenantSync {
  runId: string;
  project: string;
  blueprint: string | null;
  status: RunRow["status"];
  createdAt: number;
  at: number;
  version: number;
}

export class RunEngine {
  constructor(
    private readonly store: RunStore,
    private readonly config: EngineConfig,
  ) {}

  /** Creates the run and dispatches its roots. Idempotent: a second call changes nothing. */
  create(spec: NewRun, now: number): void {
    if (this.store.run()) return;
    this.store.insertRun({
      id: spec.id,
      tenant_id: spec.tenantId,
      project: spec.project,
      blueprint: spec.blueprint,
      status: "requested",
      trace_id: spec.traceId,
      created_at: now,
      deadline_at: spec.deadlineMs ? now + spec.deadlineMs : null,
    });
    this.event("run.requested", now, null, { blueprint: spec.blueprint, steps: spec.steps.length });
    this.syncTenant(now);

    // The API validated already; the owner of the run checks again rather than trust its caller.
    const errors = validateGraph(spec.steps);
    if (errors.length > 0) {
      this.moveRun("reject", now, { code: "run.invalid_graph", message: errors.map((e) => e.message).join("; "), retryable: false });
      return;
    }
    this.moveRun("validate", now);
    spec.steps.forEach((s, position) => {
      this.store.insertStep({
        id: s.id,
        position,
        type: s.type,
        pool: s.pool,
        input: json.write(s.input),
        depends_on: json.write(s.dependsOn),
        pending_deps: s.dependsOn.length,
        max_attempts: s.maxAttempts,
        timeout_ms: s.timeoutMs,
      });
      for (const dep of s.dependsOn) this.store.insertEdge(dep, s.id);
    });
    this.moveRun("enqueue", now);
    if (spec.deadlineMs) this.store.setTimer("deadline", "run", now + spec.deadlineMs);
    // Admission is immediate until tenant quotas exist: queued → running at once.
    this.moveRun("start", now);
    for (const step of this.store.readyPending()) this.dispatch(step, now);
  }

  /** A worker picked up an attempt: fence it, mark it running, hand it its input. */
  begin(stepId: string, attempt: number, now: number): BeginResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    if (TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.finished", `the run is ${run.status}`);
    const step = this.store.step(stepId);
    if (!step) return refuse("step.not_found", `no step '${stepId}'`);
    if (step.attempt !== attempt) return refuse("attempt.stale", `attempt ${attempt} was superseded by ${step.attempt}`);
    if (step.status !== "queued") return refuse("attempt.duplicate", `attempt ${attempt} is already ${step.status}`);

    this.moveStep(step, "start", { started_at: step.started_at ?? now });
    this.store.setAttempt(stepId, attempt, "running", now);
    this.store.setTimer("lease", stepId, now + step.timeout_ms + this.config.leaseGraceMs, attempt);
    this.event("step.started", now, stepId, { attempt });
    const dependsOn = json.read<string[]>(step.depends_on) ?? [];
    return {
      ok: true,
      input: json.read<JsonObject>(step.input) ?? {},
      upstream: this.store.outputs(dependsOn),
      timeoutMs: step.timeout_ms,
      tenantId: run.tenant_id,
      traceId: run.trace_id,
    };
  }

  /** A worker's result. Anything for an attempt other than the current running one is refused. */
  report(report: StepReport, now: number): ReportResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    if (TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.finished", `the run is ${run.status}`);
    const step = this.store.step(report.stepId);
    if (!step) return refuse("step.not_found", `no step '${report.stepId}'`);
    if (step.attempt !== report.attempt || step.status !== "running") {
      const refusal = refuse(
        "attempt.stale",
        `attempt ${report.attempt} is not the running attempt (current ${step.attempt}, ${step.status})`,
      );
      this.event("step.result_refused", now, step.id, { attempt: report.attempt, reason: refusal.message });
      return refusal;
    }
    if (report.outcome === "failed") {
      this.failAttempt(step, report.error, "failed", now);
      return { ok: true };
    }
    const conflict = report.artifacts.find((a) => {
      const existing = this.store.artifact(a.name);
      return existing !== null && existing.step_id !== step.id;
    });
    if (conflict) {
      this.failAttempt(
        step,
        { code: "artifact.name_conflict", message: `artifact '${conflict.name}' was already produced by another step`, retryable: false },
        "failed",
        now,
      );
      return { ok: true };
    }
    this.succeed(step, report.output, report.artifacts, now);
    return { ok: true };
  }

  /** The queue gave up on a message: the attempt failed, and the step's policy decides what next. */
  deadLettered(stepId: string, attempt: number, now: number): ReportResult {
    const run = this.store.run();
    if (!run || TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.finished", "the run is over");
    const step = this.store.step(stepId);
    if (!step || step.attempt !== attempt || (step.status !== "queued" && step.status !== "running")) {
      return refuse("attempt.stale", "the attempt is no longer current");
    }
    this.failAttempt(step, { code: "step.dead_lettered", message: "the queue dead-lettered the attempt", retryable: true }, "failed", now);
    return { ok: true };
  }

  cancel(now: number): ReportResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const t = transitionRun(run.status, "cancel");
    if (!t.ok) return refuse(t.code, t.message);
    this.stopUnfinished(now);
    this.moveRun("cancel", now);
    return { ok: true };
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
    if (!step || step.attempt !== timer.attempt) return;
    if (timer.kind === "backoff" && step.status === "retrying") {
      this.dispatch(step, now);
    } else if (timer.kind === "lease" && step.status === "queued") {
      // Never picked up: the message was lost (a restarted local broker, say). Send it again.
      this.store.setAttempt(step.id, step.attempt, "lost", now);
      this.event("step.lease_expired", now, step.id, { attempt: step.attempt, phase: "queued" });
      if (step.attempt >= step.max_attempts + this.config.lostBudget) {
        this.failStep(step, { code: "step.undeliverable", message: `no worker picked up ${step.attempt} dispatches`, retryable: false }, now);
      } else {
        this.dispatch(step, now);
      }
    } else if (timer.kind === "lease" && step.status === "running") {
      this.event("step.lease_expired", now, step.id, { attempt: step.attempt, phase: "running" });
      this.failAttempt(
        step,
        { code: "step.timeout", message: `no result within ${step.timeout_ms} ms (+ grace)`, retryable: true },
        "timed_out",
        now,
      );
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private dispatch(step: StepRow, now: number): void {
    const run = this.store.run()!;
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
    this.store.enqueue("dispatch", step.pool, message);
    this.store.setTimer("outbox", "flush", now + this.config.outboxRetryMs);
    this.event("step.queued", now, step.id, { attempt });
  }

  private succeed(step: StepRow, output: Json, artifacts: ArtifactReport[], now: number): void {
    for (const a of artifacts) {
      if (this.store.artifact(a.name)) continue; // same step, an earlier attempt already recorded it
      this.store.insertArtifact({
        name: a.name,
        step_id: step.id,
        attempt: step.attempt,
        r2_key: a.key,
        size: a.size,
        content_type: a.contentType,
        sha256: a.sha256,
        created_at: now,
      });
      this.event("artifact.created", now, step.id, { name: a.name, size: a.size, sha256: a.sha256, attempt: step.attempt });
    }
    this.moveStep(step, "succeed", { output: json.write(output ?? null), error: null, finished_at: now });
    this.store.setAttempt(step.id, step.attempt, "succeeded", now);
    this.store.clearStepTimers(step.id);
    this.event("step.succeeded", now, step.id, { attempt: step.attempt, durationMs: now - (step.started_at ?? now) });
    for (const ready of this.store.releaseDependents(step.id)) this.dispatch(ready, now);
    if (this.store.countUnfinishedSteps() === 0) {
      this.store.clearTimer("deadline", "run");
      this.moveRun("succeed", now);
    }
  }

  private failAttempt(step: StepRow, error: ErrorShape, how: "failed" | "timed_out", now: number): void {
    const failures = step.failures + 1;
    this.store.setAttempt(step.id, step.attempt, how, now, error);
    this.store.clearStepTimers(step.id);
    const decision = decideFailure(
      { maxAttempts: step.max_attempts, initialDelayMs: this.config.initialDelayMs, maxDelayMs: this.config.maxDelayMs },
      failures,
      error,
    );
    if (decision.kind === "retry") {
      this.moveStep(step, "retry", { failures, error: json.write(error) });
      this.store.setTimer("backoff", step.id, now + decision.delayMs, step.attempt);
      this.event("step.retrying", now, step.id, { attempt: step.attempt, error, delayMs: decision.delayMs });
      return;
    }
    this.failStep({ ...step, failures }, error, now);
  }

  private failStep(step: StepRow, error: ErrorShape, now: number): void {
    this.moveStep(step, "fail", { failures: step.failures, error: json.write(error), finished_at: now });
    this.store.clearStepTimers(step.id);
    this.event("step.failed", now, step.id, { attempt: step.attempt, error });
    // fail-fast: one failed step fails the run.
    this.failRun({ code: "run.step_failed", message: `step '${step.id}' failed: ${error.message}`, retryable: false }, now);
  }

  private failRun(error: ErrorShape, now: number): void {
    this.stopUnfinished(now);
    this.store.clearTimer("deadline", "run");
    this.moveRun("fail", now, error);
  }

  /** Pending steps are skipped; queued, running and retrying ones are cancelled (late results are refused). */
  private stopUnfinished(now: number): void {
    for (const step of this.store.stepsWithStatus(["pending", "queued", "running", "retrying"])) {
      const event: StepEvent = step.status === "pending" ? "skip" : "cancel";
      this.moveStep(step, event, { finished_at: now });
      this.store.clearStepTimers(step.id);
      if (step.status === "queued" || step.status === "running") this.store.setAttempt(step.id, step.attempt, "superseded", now);
      this.event(event === "skip" ? "step.skipped" : "step.cancelled", now, step.id, {});
    }
  }

  private moveStep(step: StepRow, event: StepEvent, patch: Partial<StepRow>): void {
    const t = transitionStep(step.status, event);
    if (!t.ok) throw new Error(`${t.code}: ${t.message} (${step.id})`); // a bug, never user input
    this.store.updateStep(step.id, { ...patch, status: t.to });
  }

  private moveRun(event: RunEvent, now: number, error: ErrorShape | null = null): void {
    const run = this.store.run()!;
    const t = transitionRun(run.status, event);
    if (!t.ok) throw new Error(`${t.code}: ${t.message}`); // a bug, never user input
    this.store.setRunStatus(t.to, now, error);
    const type: EventType =
      t.to === "running" ? (run.status === "paused" ? "run.resumed" : "run.started") : (`run.${t.to}` as EventType);
    this.event(type, now, null, error ? { error } : {});
    this.syncTenant(now);
  }

  private syncTenant(now: number): void {
    const run = this.store.run()!;
    const sync: TenantSync = {
      runId: run.id,
      project: run.project,
      blueprint: run.blueprint,
      status: run.status,
      createdAt: run.created_at,
      at: now,
      version: this.store.lastEventSeq(),
    };
    this.store.enqueue("tenant", null, sync);
    this.store.setTimer("outbox", "flush", now + this.config.outboxRetryMs);
  }

  private event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void {
    this.store.appendEvent(type, now, stepId, data);
  }
}

function refuse(code: string, message: string): Refusal {
  return { ok: false, code, message };
}
