/**
 * Deletes everything of one run in R2 (its artifacts and its archive), one listing page of at most
 * 1,000 keys per round trip. Idempotent: a purge interrupted part way is finished by the next.
 */
import { runPrefix } from "./keys";

/** Pages a purge may delete per call: 50,000 keys, far above any run; the caller calls again if more remain. */
const MAX_PAGES = 50;

/** Deletes the run's R2 keys; returns how many went and whether any remain (more than one call's worth). */
export async function purgeRunObjects(
  bucket: R2Bucket,
  tenantId: string,
  runId: string,
): Promise<{ deleted: number; more: boolean }> {
  const prefix = runPrefix(tenantId, runId);
  let deleted = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    // No cursor: every page deleted is gone from the next listing.
    const listed = await bucket.list({ prefix, limit: 1000 });
    if (listed.objects.length > 0) await bucket.delete(listed.objects.map((o) => o.key));
    deleted += listed.objects.length;
    if (!listed.truncated) return { deleted, more: false };
  }
  return { deleted, more: true };
}
