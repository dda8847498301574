/**
 * A concurrency key's object as its callers use it: one per tenant and resolved key, named by
 * both (a key is the tenant's own: two tenants' `repo-a` are two objects).
 */
import type { Env } from "../../env";
import type { FlowObject } from "./object";

export type FlowStub = Pick<FlowObject, "acquire" | "release" | "state">;

export function flowName(tenantId: string, key: string): string {
  return `${tenantId}\n${key}`;
}

export function flowStub(env: Env, tenantId: string, key: string): FlowStub {
  return env.FLOW.getByName(flowName(tenantId, key)) as unknown as FlowStub;
}
