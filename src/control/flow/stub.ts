/**
 * A concurrency key's object as its callers use it: one per tenant and resolved key, named by
 * both (a key is the tenant's own: two tenants' `repo-a` are two objects).
 */
import type { Priority } from "../../../schema/vocabulary";
import type { Env } from "../../env";

/** Who holds a key's slots and who waits, in order. */
export interface FlowState {
  key: string | null;
  limit: number | null;
  holders: string[];
  waiters: string[];
}

/**
 * The key's object's methods (FlowObject implements them). Declared here rather than picked from
 * the class: the object calls runs, and a run's outbox calls it, so naming the class would close
 * an import cycle.
 */
export interface FlowStub {
  acquire(
    tenantId: string,
    key: string,
    ask: { runId: string; limit: number; priority: Priority },
  ): Promise<{ granted: boolean }>;
  release(tenantId: string, key: string, runId: string): Promise<void>;
  state(): Promise<FlowState>;
  /** A rate key (rate.ts): a token for the ticket's `attempt`, now or when the window frees. */
  acquireRate(tenantId: string, key: string, ask: RateAsk): Promise<{ granted: boolean; at?: number }>;
  /** The ticket gives up its place in the rate key's queue (its step ended). Idempotent. */
  releaseRate(tenantId: string, key: string, ticket: string): Promise<void>;
  rateState(): Promise<RateState>;
}

export interface RateAsk {
  ticket: string;
  attempt: number;
  limit: number;
  periodMs: number;
  priority: Priority;
}

/** A rate key's tokens taken within its window and who waits, in order. */
export interface RateState {
  key: string | null;
  limit: number | null;
  periodMs: number | null;
  taken: { ticket: string; attempt: number; at: number }[];
  waiters: string[];
}

/**
 * A step's ticket in a key's object: its run and step. A run's own ticket is its id (run ids
 * hold no newline), so the object tells the one or the other (flow/tickets.ts).
 */
export const stepTicket = (runId: string, stepId: string): string => `${runId}\n${stepId}`;

/** A step's concurrency key's object: its own namespace, so a run holding `repo-a` never blocks its step on `repo-a`. */
export function stepFlowStub(env: Env, tenantId: string, key: string): FlowStub {
  return env.FLOW.getByName(`\u0001step\n${flowName(tenantId, key)}`) as unknown as FlowStub;
}

/** A step's rate key's object. */
export function rateStub(env: Env, tenantId: string, key: string): FlowStub {
  return env.FLOW.getByName(`\u0001rate\n${flowName(tenantId, key)}`) as unknown as FlowStub;
}

export function flowName(tenantId: string, key: string): string {
  return `${tenantId}\n${key}`;
}

export function flowStub(env: Env, tenantId: string, key: string): FlowStub {
  return env.FLOW.getByName(flowName(tenantId, key)) as unknown as FlowStub;
}
