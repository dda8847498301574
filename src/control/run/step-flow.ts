/**
 * A step's side of its concurrency and rate keys (docs/flow-control.md, "Step keys"). A ready
 * step with keys is dispatched only once it holds a slot of its concurrency key (kept across its
 * retries until it ends) and a token of its rate key for the attempt about to go out (each
 * attempt takes one: a rate protects an outside API's calls). Lacking one, it stays `pending` (or
 * `retrying`) with no attempt, no queue message and no worker, its row naming what it waits for
 * and a `step.waiting` event (`kind: "flow"`); its acquire is an outbox row written in the
 * transaction that decided it, sent to the key's FlowObject until answered. The object grants by
 * a durable record and tells the run (`stepGranted`), which dispatches the step then. The step's
 * end releases its slot (or its place in a queue), by an outbox row too: a kill of either side
 * loses nothing, and the key's object reclaims a slot whose step says it no longer holds it.
 * A step without keys has a null `flow` column and never comes here.
 */
import type { StepWaiting } from "../../../schema/flow";
import type { FlowMessage, StepGrant } from "../../../schema/messages";
import { TERMINAL_RUN_STATUSES, TERMINAL_STEP_STATUSES, type EventType } from "../../../schema/vocabulary";
import { json } from "../sqlite";
import type { StepRow } from "./rows";
import { readStepFlow, type StepFlowState } from "./step-flow-state";
import type { RunStore } from "./store";

export interface StepFlowOps {
  event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void;
  /** Dispatches a ready step (the engine's dispatch, which asks `hold` again). */
  dispatch(step: StepRow, now: number): void;
}

export class StepFlow {
  constructor(
    private readonly store: RunStore,
    private readonly outboxRetryMs: number,
    private readonly ops: StepFlowOps,
  ) {}

  /**
   * The engine is about to dispatch `step`: true while it must wait for a key (what it lacks is
   * asked for, once). A queued step sent again (its message was lost) keeps what it was granted.
   */
  hold(step: StepRow, now: number): boolean {
    const flow = readStepFlow(step);
    if (!flow || (step.status !== "pending" && step.status !== "retrying")) return false;
    const attempt = step.attempt + 1;
    const { concurrency, rateLimit } = flow.keys;
    const want: StepWaiting | null =
      concurrency && !flow.held
        ? { reason: "concurrency.key", key: concurrency.key }
        : rateLimit && flow.token !== attempt
          ? { reason: "rate.key", key: rateLimit.key }
          : null;
    if (!want) {
      if (flow.waiting) this.write(step, { ...flow, waiting: null });
      return false;
    }
    if (flow.waiting?.reason === want.reason && flow.waiting.key === want.key) return true;
    this.write(step, { ...flow, waiting: want });
    this.ops.event("step.waiting", now, step.id, { kind: "flow", ...want, attempt });
    const priority = this.store.existingRun().priority;
    if (want.reason === "concurrency.key" && concurrency)
      this.send({ op: "acquireStep", key: want.key, limit: concurrency.limit, priority, stepId: step.id }, now);
    else if (rateLimit)
      this.send(
        {
          op: "acquireRate",
          key: want.key,
          limit: rateLimit.limit,
          periodMs: rateLimit.periodMs,
          priority,
          stepId: step.id,
          attempt,
        },
        now,
      );
    return true;
  }

  /** A key's object granted a slot or a token: recorded, and the step dispatched if it is ready. Idempotent. */
  granted(grant: StepGrant, now: number): void {
    const run = this.store.run();
    const step = this.store.step(grant.stepId);
    const flow = step ? readStepFlow(step) : null;
    if (!run || !step || !flow || TERMINAL_STEP_STATUSES.has(step.status)) return;
    const next: StepFlowState = { ...flow };
    if (grant.kind === "concurrency" && flow.keys.concurrency?.key === grant.key && !flow.held) next.held = true;
    else if (grant.kind === "rate" && flow.keys.rateLimit?.key === grant.key && grant.attempt === step.attempt + 1)
      Object.assign(next, { token: grant.attempt, ...(grant.at ? { tokenAt: grant.at } : {}) });
    else return;
    if (
      flow.waiting?.key === grant.key &&
      flow.waiting.reason === (grant.kind === "rate" ? "rate.key" : "concurrency.key")
    )
      next.waiting = null;
    this.write(step, next);
    if (run.status !== "running" || TERMINAL_RUN_STATUSES.has(run.status)) return;
    const ready =
      (step.status === "pending" && step.pending_deps === 0) ||
      (step.status === "retrying" && !this.store.hasTimer("backoff", step.id));
    const fresh = this.store.step(step.id);
    if (ready && fresh) this.ops.dispatch(fresh, now);
  }

  /** What the dispatch of a step with keys logs of them: when its attempt's rate token was taken. */
  tokenOf(step: StepRow): { tokenAt?: number } {
    const flow = readStepFlow(this.store.step(step.id) ?? step);
    return flow?.tokenAt && flow.token === step.attempt + 1 ? { tokenAt: flow.tokenAt } : {};
  }

  /** Whether the step still holds or waits for a slot of `key` (its object reclaims the slot of a step gone). */
  holds(stepId: string, key: string): boolean {
    const run = this.store.run();
    const step = run && !TERMINAL_RUN_STATUSES.has(run.status) ? this.store.step(stepId) : null;
    const flow = step && !TERMINAL_STEP_STATUSES.has(step.status) ? readStepFlow(step) : null;
    if (!flow || flow.keys.concurrency?.key !== key) return false;
    return flow.held || (flow.waiting?.reason === "concurrency.key" && flow.waiting.key === key);
  }

  /** The step ended (succeeded, failed for good, cancelled, skipped): its slot and any place in a queue are given back. */
  ended(step: StepRow, now: number): void {
    const flow = readStepFlow(this.store.step(step.id) ?? step);
    if (!flow) return;
    const { concurrency, rateLimit } = flow.keys;
    if (concurrency && (flow.held || flow.waiting?.reason === "concurrency.key"))
      this.send({ op: "releaseStep", key: concurrency.key, stepId: step.id }, now);
    if (rateLimit && flow.waiting?.reason === "rate.key")
      this.send({ op: "releaseRate", key: rateLimit.key, stepId: step.id }, now);
  }

  private write(step: StepRow, flow: StepFlowState): void {
    this.store.updateStep(step.id, { flow: json.write(flow) });
  }

  private send(message: FlowMessage, now: number): void {
    this.store.enqueue("flow", null, message);
    this.store.setTimerNoLater("outbox", "flush", now + this.outboxRetryMs);
  }
}
