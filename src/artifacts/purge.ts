/**
 * Deletes keys under an R2 prefix, one listing page of at most 1,000 keys per round trip. No cursor:
 * every page deleted is gone from the next listing. Idempotent: a deletion cut short is finished
 * by the next.
 */
import { runPrefix } from "./keys";

/** Deletes at most `maxPages` pages under `prefix`; `more` when keys remain for another call. */
export async function deletePrefix(
  bucket: R2Bucket,
  prefix: string,
  maxPages: number,
): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  for (let page = 0; page < maxPages; page++) {
    const listed = await bucket.list({ prefix, limit: 1000 });
    if (listed.objects.length > 0) await bucket.delete(listed.objects.map((o) => o.key));
    deleted += listed.objects.length;
    if (!listed.truncated) return { deleted, more: false };
  }
  return { deleted, more: true };
}

/** Pages a run's purge deletes between its checks that keys remain: 50,000 keys, far above any run. */
const RUN_PAGES = 50;

/** Deletes everything of one run in R2 (its artifacts and its archive); returns how many keys went. */
export async function purgeRunObjects(bucket: R2Bucket, tenantId: string, runId: string): Promise<number> {
  const prefix = runPrefix(tenantId, runId);
  let deleted = 0;
  for (let more = true; more; ) {
    const pass = await deletePrefix(bucket, prefix, RUN_PAGES);
    deleted += pass.deleted;
    more = pass.more;
  }
  return deleted;
}
