/**
 * `step.unroutable` (issue 27): a tenant pool's object found a step of this run that no live
 * worker could take for the tenant's `limits.unroutableAfterMs`. The run records it (an event, and
 * a webhook event like any milestone) while the step keeps waiting; the pool notes each step once.
 * Apart from the engine: no state changes, only the event, in the object's transaction.
 */
import type { Labels } from "../../../schema/workers";
import type { RunStore } from "./store";

export interface UnroutableNote {
  pool: string;
  kind: string;
  requires: Labels;
  waitedMs: number;
}

/** Records the event when the attempt is still the step's current, queued one; false otherwise. */
export function noteUnroutable(
  store: RunStore,
  stepId: string,
  attempt: number,
  note: UnroutableNote,
  now: number,
  webhookBatchMs: number,
): boolean {
  const step = store.step(stepId);
  if (!step || step.attempt !== attempt || step.status !== "queued") return false;
  const seq = store.appendEvent("step.unroutable", now, stepId, { attempt, ...note });
  // Written with the event, in its transaction, as the engine writes every webhook event.
  store.enqueue("webhook", null, seq);
  store.setTimerNoLater("outbox", "webhooks", now + webhookBatchMs);
  return true;
}
