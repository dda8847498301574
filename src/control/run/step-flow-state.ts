/**
 * The step row's `flow` column: a step's concurrency and rate keys and what it holds of them
 * (step-flow.ts decides; the views show what it waits for). Null for a step without keys.
 */
import type { ResolvedStepFlow, StepWaiting } from "../../../schema/flow";
import type { WireStep } from "../../../schema/api";
import { json } from "../sqlite";
import type { StepRow } from "./rows";

export interface StepFlowState {
  keys: ResolvedStepFlow;
  /** The step holds a slot of its concurrency key (kept across its retries, until it ends). */
  held: boolean;
  /** The attempt a rate token was granted for (0: none): each attempt takes its own. */
  token: number;
  /** When the key's object took that token (its clock). */
  tokenAt?: number;
  /** What the step asked for and waits on (null: nothing). */
  waiting: StepWaiting | null;
}

export function stepFlowColumn(keys: ResolvedStepFlow | undefined): string | null {
  if (!keys || (!keys.concurrency && !keys.rateLimit)) return null;
  return json.write({ keys, held: false, token: 0, waiting: null } satisfies StepFlowState);
}

export function readStepFlow(step: StepRow): StepFlowState | null {
  return step.flow ? json.read<StepFlowState>(step.flow) : null;
}

/** The step's keys for its retry's spec. */
export function stepFlowKeys(column: string): ResolvedStepFlow {
  return json.read<StepFlowState>(column)?.keys ?? {};
}

/** The step's keys, and what it waits for while it is not yet dispatched. */
export function stepFlowView(step: StepRow): Pick<WireStep, "concurrency" | "rateLimit" | "waiting"> {
  const flow = readStepFlow(step);
  if (!flow) return {};
  const ready = step.status === "pending" || step.status === "retrying";
  return {
    ...(flow.keys.concurrency ? { concurrency: flow.keys.concurrency } : {}),
    ...(flow.keys.rateLimit ? { rateLimit: flow.keys.rateLimit } : {}),
    ...(flow.waiting && ready ? { waiting: flow.waiting } : {}),
  };
}
