/**
 * Archiving the audit trail before it is pruned (docs/audit.md): entries past the retention go to
 * R2 as gzipped JSON lines, oldest first, a bounded batch per alarm, under the tenant's prefix
 * (`tenants/{tenant}/audit/`), as a run's archive goes under its run's. A batch is written, read
 * back and checked before its rows are deleted, and its key is named by its first and last
 * entries, so a batch retried after a kill writes the same object again rather than a second one.
 */
import type { AuditRecord } from "../../../schema/audit";
import { sha256Hex } from "../../lib/crypto";
import { all, execIn } from "../sqlite";

/** Where a tenant's archived audit entries are kept. */
export const auditArchivePrefix = (tenantId: string): string => `tenants/${tenantId}/audit/`;

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[:.]/g, "");

/** An audit row as SQLite holds it (the object's table and the archive's batches). */
export interface AuditRow {
  id: string;
  at: number;
  action: AuditRecord["action"];
  actor: string;
  actor_name: string | null;
  target: string;
  ip: string | null;
  user_agent: string | null;
  trace_id: string | null;
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Archives and deletes up to `limit` entries older than `cutoff`, oldest first; how many it moved
 * (0: nothing is past the retention). Throws, deleting nothing, when R2 did not keep the batch.
 */
export async function archiveBatch(
  sql: SqlStorage,
  bucket: R2Bucket,
  tenantId: string,
  cutoff: number,
  limit: number,
): Promise<number> {
  const rows = all<AuditRow>(sql, "SELECT * FROM audit WHERE at < ? ORDER BY at, id LIMIT ?", cutoff, limit);
  const first = rows[0];
  const last = rows.at(-1);
  if (!first || !last) return 0;
  const lines = rows.map((r) =>
    JSON.stringify({
      id: r.id,
      at: new Date(r.at).toISOString(),
      action: r.action,
      actor: r.actor,
      actorName: r.actor_name,
      target: r.target,
      ip: r.ip,
      userAgent: r.user_agent,
      traceId: r.trace_id,
    }),
  );
  const bytes = await gzip(`${lines.join("\n")}\n`);
  const sha256 = await sha256Hex(bytes);
  const key = `${auditArchivePrefix(tenantId)}${stamp(first.at)}-${first.id}-${last.id}.jsonl.gz`;
  await bucket.put(key, bytes, {
    sha256,
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: { sha256, entries: String(rows.length) },
  });
  const back = await bucket.head(key);
  if (back?.customMetadata?.sha256 !== sha256 || back.size !== bytes.byteLength)
    throw new Error(`audit archive ${key} was not kept as written`);
  execIn(
    sql,
    "DELETE FROM audit WHERE id IN (?)",
    rows.map((r) => r.id),
  );
  return rows.length;
}
