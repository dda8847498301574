/**
 * Pure state machines of runs and steps: `(state, event) → state | error`.
 * The Run DO asks these before every change, so an illegal transition cannot be written.
 */
import type { RetryPolicy } from "../../../schema/run";
import type { ErrorCode } from "../../../schema/errors";
import type { RunStatus, StepStatus } from "../../../schema/vocabulary";
import type { StepRow } from "./rows";

export type RunEvent = "validate" | "reject" | "enqueue" | "start" | "succeed" | "fail" | "cancel" | "pause" | "resume";
export type StepEvent = "dispatch" | "start" | "succeed" | "retry" | "fail" | "cancel" | "skip" | "reuse" | "wait";

const RUN: Record<RunStatus, Partial<Record<RunEvent, RunStatus>>> = {
  requested: { validate: "validated", reject: "failed" },
  validated: { enqueue: "queued", cancel: "cancelled" },
  queued: { start: "running", cancel: "cancelled", fail: "failed" },
  running: { succeed: "succeeded", fail: "failed", cancel: "cancelled", pause: "paused" },
  // A pause stops new dispatches; attempts already out may still finish the run.
  paused: { resume: "running", cancel: "cancelled", fail: "failed", succeed: "succeeded" },
  succeeded: {},
  failed: {},
  cancelled: {},
};

const STEP: Record<StepStatus, Partial<Record<StepEvent, StepStatus>>> = {
  // reuse: a retry carries the step's success over from the run it re-runs.
  // wait: a control-plane step (approval, signal) starts waiting in the run's object instead of a queue.
  pending: { dispatch: "queued", skip: "skipped", cancel: "cancelled", reuse: "succeeded", wait: "waiting" },
  // queued → queued: a lost dispatch is sent again under a new attempt.
  queued: { dispatch: "queued", start: "running", retry: "retrying", fail: "failed", cancel: "cancelled" },
  running: { succeed: "succeeded", retry: "retrying", fail: "failed", cancel: "cancelled" },
  // retrying also holds the steps a paused run may not dispatch; resume sends them.
  retrying: { dispatch: "queued", fail: "failed", cancel: "cancelled" },
  // A decision, a signal or the wait's timeout ends it.
  waiting: { succeed: "succeeded", fail: "failed", cancel: "cancelled" },
  succeeded: {},
  failed: {},
  cancelled: {},
  skipped: {},
};

export type Transition<S> = { ok: true; to: S } | { ok: false; code: ErrorCode; message: string };

/** Stable error codes for refused run transitions, as the API reports them. */
export const RUN_REFUSAL = {
  cancel: "run.not_cancellable",
  pause: "run.not_pausable",
  resume: "run.not_resumable",
} as const satisfies Partial<Record<RunEvent, ErrorCode>>;
const refusals: Partial<Record<RunEvent, ErrorCode>> = RUN_REFUSAL;

export function transitionRun(from: RunStatus, event: RunEvent): Transition<RunStatus> {
  const to = RUN[from][event];
  if (to) return { ok: true, to };
  return {
    ok: false,
    code: refusals[event] ?? "run.illegal_transition",
    message: `a ${from} run cannot ${event}`,
  };
}

export function transitionStep(from: StepStatus, event: StepEvent): Transition<StepStatus> {
  const to = STEP[from][event];
  if (to) return { ok: true, to };
  return { ok: false, code: "step.illegal_transition", message: `a ${from} step cannot ${event}` };
}

export type FailureDecision = { kind: "retry"; delayMs: number } | { kind: "fail" };

/**
 * What to do after an attempt failed. `failures` counts this failure too.
 * Backoff is exponential with full jitter; a retry-after error waits at least what it names.
 */
export function decideFailure(
  policy: RetryPolicy,
  failures: number,
  error: { retryable: boolean; retryAfterMs?: number },
  random: () => number = Math.random,
): FailureDecision {
  if (!error.retryable || failures >= policy.maxAttempts) return { kind: "fail" };
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (failures - 1));
  const jittered = Math.floor(random() * ceiling);
  return { kind: "retry", delayMs: Math.max(jittered, error.retryAfterMs ?? 0) };
}

/**
 * How long a dispatch may wait in its queue before it is taken for lost and sent again: the base
 * lease, doubled for each earlier dispatch of the step that was lost so (at most 4x). A queue whose
 * backlog outlasts the lease is not losing messages: re-sending at a fixed period put each step at
 * the back of that queue again and again, filled it with stale copies, and failed steps as
 * undeliverable that were only waiting (seen under load: 395 leases for 200 steps, one step failed).
 */
export function queuedLeaseMs(base: number, step: Pick<StepRow, "attempt" | "failures" | "holds">): number {
  // Every earlier attempt that neither failed (the retry policy's count) nor met an open breaker was lost.
  const lost = Math.max(0, step.attempt - step.failures - step.holds);
  return base * Math.min(2 ** lost, MAX_LEASE_GROWTH);
}
const MAX_LEASE_GROWTH = 4;
