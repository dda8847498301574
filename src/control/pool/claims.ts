/**
 * Claim deadlines on handed leases (issue 27's gap): a long poll answered with a step can be
 * answered to nobody (the worker's connection dropped as the step arrived), and that step would
 * then wait for its lease to expire (the step's heartbeat timeout or timeout). So each lease starts
 * unclaimed with a short deadline; the worker's first call with it (heartbeat, artifact, result,
 * release; both SDKs heartbeat at once) claims it. A lease still unclaimed at its deadline is
 * dropped here and its attempt released through the run's release path: the run ends it
 * `released` and dispatches the step again at once, without spending its retry budget. Fencing
 * holds: the dropped lease's later calls find nothing, and the run refuses the old attempt.
 * SQL over the pool's lease table; the object (./object.ts) owns the alarm.
 */
import type { Env } from "../../env";
import { numberVar } from "../../env";
import { logError } from "../../lib/log";
import { runStub } from "../run/stub";
import { all, one } from "../sqlite";

/** How long a handed lease may go unconfirmed (`LEASE_CLAIM_MS`, default 10 s). */
export function claimWindowMs(env: Env): number {
  return numberVar(env.LEASE_CLAIM_MS, 10_000);
}

/** The lease with this hash was used by its worker: it is no longer at risk of being unheard. */
export function markClaimed(sql: SqlStorage, hash: string): void {
  sql.exec("UPDATE lease SET claim_by = NULL WHERE hash = ? AND claim_by IS NOT NULL", hash);
}

/** When the earliest unclaimed lease's deadline falls, if any. */
export function nextClaimDeadline(sql: SqlStorage): number | null {
  return (
    one<{ at: number | null }>(sql, "SELECT MIN(claim_by) AS at FROM lease WHERE claim_by IS NOT NULL")?.at ?? null
  );
}

/**
 * Drops every lease unclaimed past its deadline (at once, before any call out, so a late call
 * with one finds nothing) and gives each attempt back to its run. Returns how many it released.
 */
export async function releaseUnclaimed(sql: SqlStorage, env: Env, now: number): Promise<number> {
  const due = all<{ run_id: string; step_id: string; attempt: number }>(
    sql,
    "DELETE FROM lease WHERE claim_by IS NOT NULL AND claim_by <= ? RETURNING run_id, step_id, attempt",
    now,
  );
  let released = 0;
  for (const l of due) {
    try {
      // Refused when the attempt is no longer running (cancelled, timed out): nothing to give back.
      const answer = await runStub(env, l.run_id).release(l.step_id, l.attempt);
      if (answer.ok) released++;
    } catch (err) {
      // The lease row is gone either way; the run's own lease timer still recovers the step.
      logError("pool.unclaimed_release_failed", { runId: l.run_id, stepId: l.step_id, error: String(err) });
    }
  }
  return released;
}
