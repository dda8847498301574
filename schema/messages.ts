/** Contracts of what crosses a queue: a step dispatch, validated by every consumer. */
import { z } from "zod";
import { POOLS } from "./vocabulary";

export const StepMessage = z
  .object({
    v: z.literal(1),
    runId: z.string().min(1).max(64),
    tenantId: z.string().min(1).max(64),
    stepId: z.string().min(1).max(64),
    /** Fencing token: the DO refuses anything reported for an attempt it has moved past. */
    attempt: z.number().int().positive(),
    type: z.string().min(1).max(64),
    pool: z.enum(POOLS),
    traceId: z.string().max(64),
  })
  .strict();
export type StepMessage = z.infer<typeof StepMessage>;

/** A run's word to one of its concurrency keys' objects (src/control/run/flow-gate.ts), sent from its outbox. */
export type FlowMessage =
  | { op: "acquire"; key: string; limit: number; priority: "high" | "normal" | "low" }
  | { op: "release"; key: string }
  /** The debounced run started or ended: its key's object forgets it as the key's pending run. */
  | { op: "debounce.settle"; key: string; project: string }
  // A step's keys (docs/flow-control.md, "Step keys"): the step's ticket in the key's object is the run and step.
  | { op: "acquireStep"; key: string; limit: number; priority: "high" | "normal" | "low"; stepId: string }
  | { op: "releaseStep"; key: string; stepId: string }
  | {
      op: "acquireRate";
      key: string;
      limit: number;
      periodMs: number;
      priority: "high" | "normal" | "low";
      stepId: string;
      attempt: number;
    }
  | { op: "releaseRate"; key: string; stepId: string };

/** A step key's object granted the step a slot (concurrency) or a token for `attempt` (rate). */
export interface StepGrant {
  stepId: string;
  key: string;
  kind: "concurrency" | "rate";
  /** The attempt a rate token is for (0 for a concurrency slot). */
  attempt: number;
  /** When the key's object took the token (its clock; rate only). */
  at?: number;
}
