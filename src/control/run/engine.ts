/**
 * The decisions of a run's control plane. Every method is synchronous and runs inside one
 * SQLite transaction of the Run DO, so a state change, its events, its timers and its outbox
 * rows (the intent to dispatch) commit together or not at all. Sending happens after commit.
 */
import type { Json } from "../../../schema/api";
import {
  TERMINAL_RUN_STATUSES,
  TERMINAL_STEP_STATUSES,
  type EventType,
  type PoolName,
} from "../../../schema/vocabulary";
import { WEBHOOK_EVENT_TYPES } from "../../../schema/webhooks";
import type { StepMessage } from "../../../schema/messages";
import { deliveredData } from "./delivered";
import { json } from "../sqlite";
import { dependents, validateGraph } from "./dag";
import { insertStep } from "./steps";
import { queuedLeaseMs, transitionRun, transitionStep, type RunEvent, type StepEvent } from "./machine";
import type { OutboxKind, StepRow, TimerRow } from "./rows";
import type { RunStore } from "./store";
import type { Asker, EngineConfig } from "./types";
import { type ErrorShape, refuse } from "../../../schema/errors";
import type {
  Artifact,
  BeginResult,
  Continuation,
  Decider,
  DeciderKey,
  DecisionResult,
  GateDecision,
  LinksResult,
  NewRun,
  ReportResult,
  SignalResult,
  StepReport,
  HttpRequestRecord,
  TenantSync,
} from "../../../schema/run";
import { GateEngine } from "./gate-engine";
import { AttemptEngine, type HeartbeatResult } from "./attempt-engine";
import { runRetention } from "./archive-format";
import { labelsColumn } from "./labels";
import { FlowGate } from "./flow-gate";
import { flowColumn } from "./flow-row";
import { tenantSync } from "./tenant-sync";
import { StepFlow } from "./step-flow";
import type { TenantJob } from "../tenant-jobs";

const WEBHOOK_EVENTS: ReadonlySet<EventType> = new Set(WEBHOOK_EVENT_TYPES);
const FINAL_EVENTS: ReadonlySet<EventType> = new Set([...TERMINAL_RUN_STATUSES].map((s) => `run.${s}` as EventType));

export class RunEngine {
  /** Set while an opened run is created (see create). */
  private tenantKnows = false;

  readonly gates: GateEngine; // the shell names the API request of a decision (withRequest)
  readonly attempts: AttemptEngine; // the shell reaches its rarer moves (release) directly
  /** The run's concurrency keys (flow-gate.ts): the object tells it of grants through this. */
  readonly flow: FlowGate;
  /** The steps' concurrency and rate keys (step-flow.ts): the object tells it of grants through this. */
  readonly stepFlow: StepFlow;

  constructor(
    private readonly store: RunStore,
    private readonly config: EngineConfig,
  ) {
    this.gates = new GateEngine(store, config, {
      moveStep: (step, event, patch) => this.moveStep(step, event, patch),
      event: (type, now, stepId, data) => this.event(type, now, stepId, data),
      succeed: (step, output, now) => this.succeed(step, output, [], now),
      failStep: (step, error, now) => this.failStep(step, error, now),
      watch: (op, now) => this.enqueue("automation", null, op, now),
    });
    this.flow = new FlowGate(store, config.outboxRetryMs, (now, data) => this.event("run.waiting", now, null, data));
    this.stepFlow = new StepFlow(store, config.outboxRetryMs, {
      event: (type, now, stepId, data) => this.event(type, now, stepId, data),
      dispatch: (step, now) => this.dispatch(step, now),
    });
    this.attempts = new AttemptEngine(store, config, {
      moveStep: (step, event, patch) => this.moveStep(step, event, patch),
      event: (type, now, stepId, data) => this.event(type, now, stepId, data),
      succeed: (step, output, artifacts, now) => this.succeed(step, output, artifacts, now),
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
      requested_by: spec.requestedBy ?? null,
      origin: spec.origin ? json.write(spec.origin) : null,
      labels: labelsColumn(spec),
      flow: flowColumn(spec.concurrency, spec.debounce),
      collector: spec.collector ? 1 : 0,
    });
    this.event("run.requested", now, null, {
      blueprint: spec.blueprint,
      steps: spec.steps.length,
      ...(spec.retryOf ? { retryOf: spec.retryOf.runId } : {}),
      ...(spec.request ? { request: spec.request } : {}),
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
        this.attempts.recordArtifacts(step, carried.attempt, carried.artifacts, now);
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
    if (run?.status !== "queued" || this.flow.hold(now)) return;
    this.moveRun("start", now);
    const ready = this.store.readyPending();
    for (const step of ready) this.dispatch(step, now);
    // Nothing to dispatch: every step may be done already (a retry that carried them all over).
    if (ready.length === 0) this.settleRun(now);
  }

  // ── attempts: begin, heartbeat, report, dead letters (attempt-engine.ts) ──────

  /** A worker picked up an attempt: fence it, mark it running, hand it its input. */
  begin(stepId: string, attempt: number, now: number): BeginResult {
    return this.attempts.begin(stepId, attempt, now);
  }

  /** A running attempt says it is alive: its lease moves forward (never past its timeout). */
  heartbeat(stepId: string, attempt: number, now: number): HeartbeatResult {
    return this.attempts.heartbeat(stepId, attempt, now);
  }

  /** A worker's result. Anything for an attempt other than the current running one is refused. */
  report(report: StepReport, now: number, tenantJobs?: ReadonlyMap<string, TenantJob>): ReportResult {
    return this.attempts.report(report, now, tenantJobs);
  }

  /** Runs the next step in the reporter's pool without a queue trip (`AttemptEngine.continueIn`). */
  continueIn(pool: PoolName, afterOutboxId: number, now: number): Continuation | null {
    return this.attempts.continueIn(pool, afterOutboxId, now);
  }

  /** The queue gave up on a message: the attempt failed, and the step's policy decides what next. */
  deadLettered(stepId: string, attempt: number, now: number): ReportResult {
    return this.attempts.deadLettered(stepId, attempt, now);
  }

  cancel(now: number, by?: string, request?: HttpRequestRecord): ReportResult {
    return this.control("cancel", now, () => this.stopUnfinished(now), { by, request });
  }

  /** No new dispatches; attempts already sent may still run and finish. */
  pause(now: number, by?: string, request?: HttpRequestRecord): ReportResult {
    return this.control("pause", now, undefined, { by, request });
  }

  /** Sends everything a pause held back. */
  resume(now: number, by?: string, request?: HttpRequestRecord): ReportResult {
    const held = () => {
      for (const step of this.store.stepsWithStatus(["retrying"]))
        if (!this.store.hasTimer("backoff", step.id)) this.dispatch(step, now);
      for (const step of this.store.readyPending()) this.dispatch(step, now);
    };
    return this.control("resume", now, held, { by, request });
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
    if (timer.kind === "debounce") {
      if (this.flow.debounce.fired(now)) this.admit(now);
      return;
    }
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
      // A tenant pool's step (`worker` set) is waiting for the tenant's own worker, not lost: it is
      // offered again (keeping its place) and waits for its own timeout; `step.unroutable` tells.
      if (step.worker === null && step.attempt - step.holds >= step.max_attempts + this.config.lostBudget) {
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
      const error: ErrorShape = {
        code: "step.timeout",
        message: `no result or heartbeat in time (timeout ${step.timeout_ms} ms)`,
        retryable: true,
      };
      this.attempts.failAttempt(step, error, "timed_out", now);
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

  /** A waiting gate's decision links for a key that may decide it (`GateEngine.links`). */
  links(stepId: string, key: DeciderKey, now: number): LinksResult {
    return this.gates.links(stepId, key, now);
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** A run control: check the transition, apply what comes with it, move the run. */
  /** `by`: the control's actor (`key:…`), named in the run's event (docs/audit.md). */
  /** `asker`: who asked (`key:…`) and the API request that did, named in the run's event. */
  private control(event: RunEvent, now: number, apply?: () => void, asker: Asker = {}): ReportResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const t = transitionRun(run.status, event);
    if (!t.ok) return refuse(t.code, t.message);
    if (event === "resume") this.moveRun(event, now, null, asker);
    apply?.();
    if (event !== "resume") this.moveRun(event, now, null, asker);
    return { ok: true };
  }

  private dispatch(step: StepRow, now: number): void {
    if (step.pool === "control") {
      this.gates.wait(step, now);
      return;
    }
    // A step with keys waits, undispatched, until it holds them (step-flow.ts).
    if (step.flow !== null && this.stepFlow.hold(step, now)) return;
    const run = this.store.existingRun();
    const attempt = step.attempt + 1;
    this.moveStep(step, "dispatch", { attempt, queued_at: step.queued_at ?? now });
    this.store.insertAttempt(step.id, attempt, now);
    this.store.setTimer("lease", step.id, now + queuedLeaseMs(this.config.leaseQueuedMs, step), attempt);
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
    // A step's rate token: when its key's object took it (its own clock), beside the dispatch.
    this.event(
      "step.queued",
      now,
      step.id,
      step.flow === null ? { attempt } : { attempt, ...this.stepFlow.tokenOf(step) },
    );
  }

  private succeed(step: StepRow, output: Json, artifacts: Artifact[], now: number): void {
    this.attempts.recordArtifacts(step, step.attempt, artifacts, now);
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
    if (step.flow !== null && TERMINAL_STEP_STATUSES.has(t.to))
      this.stepFlow.ended(step, patch.finished_at ?? Date.now());
    this.store.updateStep(step.id, { ...patch, status: t.to });
  }

  private moveRun(event: RunEvent, now: number, error: ErrorShape | null = null, asker: Asker = {}): void {
    const run = this.store.existingRun();
    const t = transitionRun(run.status, event);
    if (!t.ok) throw new Error(`${t.code}: ${t.message}`); // a bug, never user input
    this.store.setRunStatus(t.to, now, error);
    // The run's last timer: when its hot period ends, the object archives it and empties itself.
    if (TERMINAL_RUN_STATUSES.has(t.to)) {
      this.store.setTimer("archive", "run", now + runRetention(run).hotMs);
      this.flow.release(now);
      // The run's trace goes out with its end, in the same transaction: a kill cannot lose it.
      if (this.config.telemetry) this.store.enqueue("telemetry", null, { at: now });
      if (run.collector) this.store.enqueue("telemetry", null, { at: now, to: "tenant" });
    }
    const type: EventType =
      t.to === "running" ? (run.status === "paused" ? "run.resumed" : "run.started") : (`run.${t.to}` as EventType);
    this.event(type, now, null, { ...(error ? { error } : {}), ...asker });
    this.syncTenant(now);
  }

  /**
   * The key's object answered "wait" (`keys`) or granted (`granted`) keys: the run gives its
   * tenant slot back while it waits, asks for one again once it holds every key, or starts.
   */
  keysAnswered(waiting: string[], granted: string[], now: number): void {
    if (waiting.map((k) => this.flow.queued(k, now)).some(Boolean)) this.syncTenant(now, "waiting");
    const answers = granted.map((k) => this.flow.granted(k, now));
    if (answers.includes("start")) this.admit(now);
    else if (answers.includes("ready")) this.syncTenant(now, "ready");
  }

  private syncTenant(now: number, flow?: TenantSync["flow"]): void {
    // While an opened run is created, the tenant already holds what these syncs would say;
    // an ending (an invalid graph) is still news.
    if (this.tenantKnows && !TERMINAL_RUN_STATUSES.has(this.store.existingRun().status)) return;
    this.enqueue("tenant", null, { ...tenantSync(this.store, now), ...(flow ? { flow } : {}) }, now);
  }

  /** An outbox row, and the timer that re-sends it if the send after commit never happens (the oldest row's: not moved later, a write saved per step). */
  private enqueue(kind: OutboxKind, pool: PoolName | null, body: unknown, now: number): void {
    this.store.enqueue(kind, pool, body);
    this.store.setTimerNoLater("outbox", "flush", now + this.config.outboxRetryMs);
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
