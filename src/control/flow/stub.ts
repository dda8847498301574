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
}

export function flowName(tenantId: string, key: string): string {
  return `${tenantId}\n${key}`;
}

export function flowStub(env: Env, tenantId: string, key: string): FlowStub {
  return env.FLOW.getByName(flowName(tenantId, key)) as unknown as FlowStub;
}
