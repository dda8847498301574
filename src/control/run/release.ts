/**
 * A worker gives an attempt back (graceful shutdown, a worker draining for a deploy): the attempt
 * ends `released`, and the step is dispatched again at once as a new attempt. Nothing failed, so
 * the step's failures (its retry budget) stay as they are. The new dispatch is a backoff timer due
 * now, so it goes through the same path as a retry (a paused run holds it, a cancelled one never
 * sends it). A worker that releases forever is still bounded: its attempts count towards the
 * undeliverable cap (`maxAttempts + lostBudget`) like lost dispatches do.
 */
import type { Refusal } from "../../../schema/errors";
import { refuse } from "../../../schema/errors";
import type { EventType } from "../../../schema/vocabulary";
import type { StepEvent } from "./machine";
import type { StepRow } from "./rows";
import type { RunStore } from "./store";

export type ReleaseResult = { ok: true; attempt: number } | Refusal;

export interface ReleaseOps {
  moveStep(step: StepRow, event: StepEvent, patch: Partial<StepRow>): void;
  event(type: EventType, now: number, stepId: string | null, data: Record<string, unknown>): void;
}

/** Ends the current running attempt of `step` as released and schedules its next dispatch now. */
export function releaseAttempt(store: RunStore, ops: ReleaseOps, step: StepRow, now: number): ReleaseResult {
  if (step.status !== "running") return refuse("attempt.not_running", `the step is ${step.status}`);
  store.setAttempt(step.id, step.attempt, "released", now);
  store.clearStepTimers(step.id);
  ops.moveStep(step, "retry", {});
  store.setTimer("backoff", step.id, now, step.attempt);
  ops.event("step.released", now, step.id, { attempt: step.attempt });
  return { ok: true, attempt: step.attempt };
}
