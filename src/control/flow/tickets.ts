/**
 * Who holds a ticket in a key's object: a run (its id) or a step of a run (`run\nstep`,
 * stub.ts `stepTicket`). The object tells the one or the other of a grant, and asks it whether
 * it still holds the key.
 */
import type { Env } from "../../env";
import { runStub } from "../run/stub";

export function parseTicket(ticket: string): { runId: string; stepId: string | null } {
  const cut = ticket.indexOf("\n");
  return cut < 0 ? { runId: ticket, stepId: null } : { runId: ticket.slice(0, cut), stepId: ticket.slice(cut + 1) };
}

/** Tells a ticket's run of its grant: a run's key, a step's slot, or a step's token for `attempt`. */
export async function tellGrant(
  env: Env,
  tenantId: string,
  key: string,
  ticket: string,
  rate?: { attempt: number; at?: number },
): Promise<void> {
  const { runId, stepId } = parseTicket(ticket);
  if (stepId === null) await runStub(env, runId).granted(tenantId, key);
  else
    await runStub(env, runId).stepGranted(tenantId, {
      stepId,
      key,
      kind: rate ? "rate" : "concurrency",
      attempt: rate?.attempt ?? 0,
      ...(rate?.at !== undefined ? { at: rate.at } : {}),
    });
}

/** Whether the ticket's run (or step) still holds or waits for the key. */
export async function stillHolds(env: Env, tenantId: string, key: string, ticket: string): Promise<boolean> {
  const { runId, stepId } = parseTicket(ticket);
  return stepId === null
    ? runStub(env, runId).holdsKey(tenantId, key)
    : runStub(env, runId).holdsStepKey(tenantId, key, stepId);
}
