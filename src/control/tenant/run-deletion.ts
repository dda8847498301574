/**
 * What a tenant forgets of a run deleted with `DELETE /v1/runs/{id}` (its object and R2 keys are
 * gone by then): the run's index row (lists, usage roll-ups and metrics no longer count it), the
 * Idempotency-Keys that named it (a retry of its POST makes a new run), its approvals, and the
 * artifact versions it published with their publications (their bytes were under its R2 prefix;
 * the versions list shows the versions other runs published, and "latest" falls back to the
 * newest of those). Kept: its pending webhook deliveries (still delivered: the events happened),
 * its charge in the month's spend (the money was spent) and the month's run quota.
 */
import { deleteIndexed } from "./search";

/** Deletes the run's rows; true when the tenant's index had the run. Idempotent. */
export function deleteRunRows(sql: SqlStorage, runId: string): boolean {
  const known = deleteIndexed(sql, runId);
  for (const table of ["idempotency", "approval", "artifact_publication", "artifact_version"])
    sql.exec(`DELETE FROM ${table} WHERE run_id = ?`, runId);
  return known;
}
