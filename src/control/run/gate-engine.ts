/**
 * Gates: the steps of the `control` pool (approval, signal), which wait in the run's object
 * instead of being dispatched. Called by the engine (engine.ts) inside its transactions: when a
 * gate becomes ready (`wait`), when its timer comes due (`expire`), and for decisions and signals.
 * The step changes themselves go through the engine's own moves (`GateOps`), so a gate succeeds
 * or fails exactly as a worker's step does. Pure helpers are in gates.ts.
 */
import type { HttpRequestRecord } from "../../../schema/run";
import type { Json } from "../../../schema/api";
import { refuse } from "../../../schema/errors";
import { MAX_EARLY_SIGNAL_BYTES, MAX_EARLY_SIGNALS, MAX_WAIT_MS } from "../../../schema/jobs/control";
import type { Decider, DeciderKey, DecisionResult, GateDecision, LinksResult, SignalResult } from "../../../schema/run";
import { TERMINAL_RUN_STATUSES, TERMINAL_STEP_STATUSES, type EventType } from "../../../schema/vocabulary";
import type { ErrorShape } from "../../../schema/errors";
import { json } from "../sqlite";
import {
  type ApprovalInput,
  approverRefusal,
  decisionView,
  linksAllowed,
  schemaMismatch,
  type SignalInput,
  type SleepInput,
} from "./gates";
import { durationMs } from "../../../schema/duration";
import type { StepEvent } from "./machine";
import type { StepRow } from "./rows";
import type { RunStore } from "./store";
import type { EngineConfig } from "./types";
import { must } from "../../lib/must";
import type { EventWatchOp } from "../../../schema/automation";

/** What a gate needs of the engine: its step moves and its event log. */
export interface GateOps {
  moveStep(step: StepRow, event: StepEvent, patch: Partial<StepRow>): void;
  event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void;
  succeed(step: StepRow, output: Json, now: number): void;
  failStep(step: StepRow, error: ErrorShape, now: number): void;
  /** Tells the tenant's automation object, through the outbox, that a step waits for an event or no more. */
  watch(op: EventWatchOp, now: number): void;
}

const utf8 = new TextEncoder();

/**
 * Whether a step may still add steps to the run: any unfinished step a worker runs may spawn
 * (a spawned step may be a signal step of any name); gates never do.
 */
const canSpawn = (s: StepRow): boolean => s.pool !== "control" && !TERMINAL_STEP_STATUSES.has(s.status);

const isSleep = (step: StepRow) => step.type === "sleep" || step.type === "sleepUntil";

/** When a sleep step that began waiting at `startedAt` wakes. */
function sleepEnd(step: StepRow, startedAt: number): number {
  const input = must(json.read<SleepInput>(step.input), "the sleep step's input");
  return "for" in input ? startedAt + durationMs(input.for) : Date.parse(input.until);
}

export class GateEngine {
  constructor(
    private readonly store: RunStore,
    private readonly config: EngineConfig,
    private readonly ops: GateOps,
  ) {}

  /**
   * A decision on an approval gate. The first decision wins: the same one again answers what was
   * recorded; the opposite one, or one on a gate that is not waiting, is refused. `key` is null
   * for a signed link (checked by the object), which no approver list admits.
   */
  /** The API request deciding or signalling now (its `http.server` span), named in the event it causes. */
  private request: HttpRequestRecord | null = null;

  /** Runs `decide` with the API request that asks for it, so the decision's event names it. */
  withRequest<T>(request: HttpRequestRecord | undefined, decide: () => T): T {
    this.request = request ?? null;
    try {
      return decide();
    } finally {
      this.request = null;
    }
  }

  private requested(): { request?: HttpRequestRecord } {
    return this.request ? { request: this.request } : {};
  }

  decide(
    stepId: string,
    decision: GateDecision,
    by: Decider,
    key: DeciderKey | null,
    comment: string | null,
    now: number,
  ): DecisionResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const step = this.store.step(stepId);
    if (step?.type !== "approval") return refuse("approval.not_found", `no approval gate '${stepId}'`);
    const recorded = this.store.gates.decision(stepId);
    if (recorded) {
      if (recorded.decision !== decision)
        return refuse("approval.already_decided", `the gate was ${recorded.decision} already`);
      return { ok: true, decision: decisionView(run.id, recorded, true) };
    }
    if (step.status !== "waiting") return refuse("approval.not_pending", `the gate is ${step.status}`);
    const input = must(json.read<ApprovalInput>(step.input), "the gate's input");
    if (key) {
      const why = approverRefusal(input.approvers, key, run.requested_by);
      if (why) return refuse("approval.not_an_approver", why);
    } else if (!linksAllowed(input.approvers))
      return refuse("approval.not_an_approver", "this gate is decided by its approvers only");
    this.resolveGate(step, decision, by, comment, now);
    return {
      ok: true,
      decision: decisionView(run.id, must(this.store.gates.decision(stepId), "the decision just made"), false),
    };
  }

  /**
   * A signal for the run: completes every step waiting for `name`, or is kept for the step that
   * will (no lost race). The first body wins; the same body again is answered as received.
   */
  signal(name: string, body: Json, by: Decider, now: number): SignalResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const existing = this.store.gates.signal(name);
    if (existing) {
      if (existing.body !== json.write(body))
        return refuse("signal.already_received", `signal '${name}' was received already with another body`);
      return {
        ok: true,
        name,
        receivedAt: new Date(existing.received_at).toISOString(),
        consumedBy: [],
        repeated: true,
      };
    }
    if (TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.finished", `the run is ${run.status}`);
    const all = this.store.steps();
    const steps = all.filter((s) => s.type === "signal" && json.read<SignalInput>(s.input)?.name === name);
    if (steps.length === 0 && !all.some(canSpawn))
      return refuse("signal.unknown", `no step of this run waits for '${name}', and none can spawn one that would`);
    for (const s of steps) {
      const schema = json.read<SignalInput>(s.input)?.schema;
      const bad = schema ? schemaMismatch(schema, body) : null;
      if (bad) return refuse("signal.invalid_body", `step '${s.id}' waits for another shape: ${bad}`);
    }
    const waiting = steps.filter((s) => s.status === "waiting");
    if (waiting.length === 0) {
      const full = this.earlySignalsFull(all, json.write(body));
      if (full) return refuse("signal.limit", full);
    }
    this.store.gates.recordSignal(name, body, by, now);
    for (const s of waiting) this.receive(s, body, by, now);
    if (waiting.length === 0)
      this.ops.event("step.signal_received", now, null, { name, by, waitingSteps: 0, ...this.requested() });
    return {
      ok: true,
      name,
      receivedAt: new Date(now).toISOString(),
      consumedBy: waiting.map((s) => s.id),
      repeated: false,
    };
  }

  /**
   * Why one more signal kept for a step that does not wait yet would pass the run's bound, or
   * null. Kept: every received signal that no signal step has taken (a taken one is the output of
   * its succeeded step, which the run keeps anyway).
   */
  private earlySignalsFull(steps: readonly StepRow[], body: string): string | null {
    const taken = new Set(
      steps
        .filter((s) => s.type === "signal" && s.status === "succeeded")
        .map((s) => json.read<SignalInput>(s.input)?.name),
    );
    const kept = this.store.gates.signalSizes().filter((k) => !taken.has(k.name));
    if (kept.length + 1 > MAX_EARLY_SIGNALS)
      return `the run keeps ${MAX_EARLY_SIGNALS} signals that no step has taken yet`;
    const bytes = kept.reduce((n, k) => n + k.bytes, utf8.encode(body).byteLength);
    if (bytes > MAX_EARLY_SIGNAL_BYTES)
      return `the signals no step has taken yet would hold ${bytes} bytes, more than ${MAX_EARLY_SIGNAL_BYTES}`;
    return null;
  }

  /** A control-plane step is ready: it waits here, with no attempt and no queue trip. */
  wait(step: StepRow, now: number): void {
    if (isSleep(step)) {
      this.sleep(step, now);
      return;
    }
    const run = this.store.existingRun();
    const input = json.read<ApprovalInput & SignalInput>(step.input) ?? ({} as ApprovalInput & SignalInput);
    // The run's deadline still bounds the wait: its own timer ends the run first. A gate without
    // `timeoutMs` waits as long as its decision links live (MAX_WAIT_MS), not forever.
    const expiresAt = now + Math.min(input.timeoutMs ?? MAX_WAIT_MS, MAX_WAIT_MS);
    this.ops.moveStep(step, "wait", { queued_at: step.queued_at ?? now, started_at: now });
    this.store.setTimer("wait", step.id, expiresAt);
    const expires = { expiresAt: new Date(expiresAt).toISOString() };
    if (step.type === "signal") {
      // Valid as long as the step may wait: a POST to it needs no API key (src/api/callbacks.ts).
      const url = this.config.callbackUrl?.({
        tenantId: run.tenant_id,
        runId: run.id,
        stepId: step.id,
        name: input.name,
        expiresAt,
        ...(input.verify ? { verify: { header: input.verify.header, secret: input.verify.secret.$secret } } : {}),
      });
      this.ops.event("step.waiting", now, step.id, {
        kind: "signal",
        name: input.name,
        ...expires,
        ...(url ? { callbackUrl: url } : {}),
        ...(input.event ? { event: input.event } : {}),
      });
      if (input.event)
        this.ops.watch(
          {
            op: "watch",
            runId: run.id,
            stepId: step.id,
            name: input.name,
            eventType: input.event.type,
            match: input.event.match,
            expiresAt,
          },
          now,
        );
      const early = this.store.gates.signal(input.name);
      if (early)
        this.receive(
          { ...step, status: "waiting" },
          json.read<Json>(early.body),
          must(json.read<Decider>(early.by), "who sent the signal"),
          now,
        );
      return;
    }
    // The links themselves never enter the log (anyone with runs:read reads it): a key holding
    // approvals:grant asks for them (`links`), and a webhook endpoint flagged by one gets them at
    // send time. The event says only whether links exist and whose key may not hold them.
    const linkable = linksAllowed(input.approvers) && this.config.decisionLinks !== undefined;
    const excluded = input.approvers?.allowRequester === true ? null : run.requested_by;
    this.ops.event("step.waiting", now, step.id, {
      kind: "approval",
      title: input.title,
      ...(input.description ? { description: input.description } : {}),
      onTimeout: input.onTimeout ?? "reject",
      ...expires,
      ...(linkable ? { links: true, ...(excluded ? { requestedBy: excluded } : {}) } : {}),
    });
  }

  /**
   * A waiting gate's decision links, minted for `key` (which must be able to decide it): a fresh
   * pair each time, each single-use and bound to this tenant, run, step and the gate's expiry.
   */
  links(stepId: string, key: DeciderKey, now: number): LinksResult {
    const run = this.store.run();
    if (!run) return refuse("run.not_found", "no such run");
    const step = this.store.step(stepId);
    if (step?.type !== "approval") return refuse("approval.not_found", `no approval gate '${stepId}'`);
    if (step.status !== "waiting") return refuse("approval.not_pending", `the gate is ${step.status}`);
    const input = must(json.read<ApprovalInput>(step.input), "the gate's input");
    if (!linksAllowed(input.approvers))
      return refuse("approval.not_an_approver", "this gate is decided by its approvers only: it has no links");
    const why = approverRefusal(input.approvers, key, run.requested_by);
    if (why) return refuse("approval.not_an_approver", why);
    const expiresAt = this.store.timerDueAt("wait", stepId) ?? now + MAX_WAIT_MS;
    const links = this.config.decisionLinks?.({
      tenantId: run.tenant_id,
      runId: run.id,
      stepId,
      expiresAt,
      issuedTo: key.keyId,
    });
    if (!links) return refuse("approval.not_found", "this runtime has no DECISION_LINK_SECRET: decide through the API");
    return { ok: true, ...links, expiresAt: new Date(expiresAt).toISOString() };
  }

  private receive(step: StepRow, body: Json, by: Decider, now: number): void {
    const name = must(json.read<SignalInput>(step.input), "the signal step's input").name;
    this.ops.event("step.signal_received", now, step.id, { name, by, ...this.requested() });
    this.unwatch(step, now);
    this.finishWait(step, body, now);
  }

  /** A signal step that waited for an event waits no more: out of the tenant's index. */
  private unwatch(step: StepRow, now: number): void {
    if (json.read<SignalInput>(step.input)?.event)
      this.ops.watch({ op: "unwatch", runId: this.store.existingRun().id, stepId: step.id }, now);
  }

  private resolveGate(step: StepRow, decision: GateDecision, by: Decider, comment: string | null, now: number): void {
    this.store.gates.recordDecision(step.id, decision, by, comment, now);
    const decidedAt = new Date(now).toISOString();
    const waitedMs = now - (step.started_at ?? now);
    if (by.kind !== "timeout")
      this.ops.event(`step.${decision}`, now, step.id, { by, comment, waitedMs, ...this.requested() });
    if (decision === "approved") {
      this.finishWait(step, { decision, by, comment, decidedAt }, now);
      return;
    }
    const who =
      by.kind === "key" ? `key ${by.name ?? by.keyId}` : by.kind === "link" ? "a decision link" : "its timeout";
    this.ops.failStep(
      step,
      { code: "approval.rejected", message: `rejected by ${who}${comment ? `: ${comment}` : ""}`, retryable: false },
      now,
    );
  }

  /**
   * A sleep step begins: its wake time is fixed now, as a `wait` timer row (so a restart keeps
   * it). A time already past wakes it in this same transaction.
   */
  private sleep(step: StepRow, now: number): void {
    const until = sleepEnd(step, now);
    this.ops.moveStep(step, "wait", { queued_at: step.queued_at ?? now, started_at: now });
    this.ops.event("step.waiting", now, step.id, { kind: "sleep", until: new Date(until).toISOString() });
    if (until <= now) this.expire({ ...step, status: "waiting", started_at: now }, now);
    else this.store.setTimer("wait", step.id, until);
  }

  /** A wait's timeout: an approval's `onTimeout` decides, a signal fails, a sleep wakes. */
  expire(step: StepRow, now: number): void {
    if (isSleep(step)) {
      const until = sleepEnd(step, step.started_at ?? now);
      this.finishWait(step, { until: new Date(until).toISOString(), wokeAt: new Date(now).toISOString() }, now);
      return;
    }
    if (step.type === "signal") {
      const name = must(json.read<SignalInput>(step.input), "the signal step's input").name;
      this.unwatch(step, now);
      this.ops.failStep(
        step,
        { code: "signal.timed_out", message: `no signal '${name}' came in time`, retryable: false },
        now,
      );
      return;
    }
    const onTimeout = must(json.read<ApprovalInput>(step.input), "the gate's input").onTimeout ?? "reject";
    this.ops.event("step.approval_expired", now, step.id, { onTimeout, waitedMs: now - (step.started_at ?? now) });
    if (onTimeout === "fail") {
      this.ops.failStep(step, { code: "approval.expired", message: "no decision came in time", retryable: false }, now);
      return;
    }
    this.resolveGate(step, onTimeout === "approve" ? "approved" : "rejected", { kind: "timeout" }, null, now);
  }

  /** A waiting step succeeds with `output`: as a worker's success, without an attempt. */
  private finishWait(step: StepRow, output: Json, now: number): void {
    this.ops.succeed(step, output, now);
  }
}
