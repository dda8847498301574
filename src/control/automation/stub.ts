/**
 * The tenant's automation object as its callers use it, typed with the class's own signatures
 * (as the Run object's stub is): the RPC types recurse without bound on JSON-typed fields.
 */
import type { Env } from "../../env";
import type { AutomationObject } from "./object";

export type AutomationStub = Pick<
  AutomationObject,
  | "createSchedule"
  | "listSchedules"
  | "getSchedule"
  | "updateSchedule"
  | "deleteSchedule"
  | "triggerSchedule"
  | "createTrigger"
  | "listTriggers"
  | "deleteTrigger"
  | "acceptEvent"
  | "watchEvents"
>;

export function automationStub(env: Env, tenantId: string): AutomationStub {
  return env.AUTOMATION.getByName(tenantId) as unknown as AutomationStub;
}
