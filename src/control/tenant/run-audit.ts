/**
 * Run creations in the audit trail, served from the run index (docs/audit.md): the opening call
 * writes who asked into the index row it writes anyway, so auditing a run's creation costs no
 * object call and no row. The audit query merges these with the audit object's own entries.
 */
import { type AuditFilter, type AuditRecord, newestFirst } from "../../../schema/audit";
import { all } from "../sqlite";
import { auditWhere } from "../audit/query";

export const RUN_AUDIT_MIGRATION = [
  // `kind[:id]` of who opened the run (key:…, schedule:…, trigger:…); NULL for runs opened before.
  `ALTER TABLE run_index ADD COLUMN requested_by TEXT`,
  // JSON {ip, ua, traceId} of the opening request.
  `ALTER TABLE run_index ADD COLUMN request_meta TEXT`,
];

/** Who opened a run and from where, as the opening call carries it. */
export interface RunRequester {
  actor: string;
  ip: string | null;
  userAgent: string | null;
  traceId: string | null;
}

export const requesterMeta = (r: RunRequester): string =>
  JSON.stringify({ ip: r.ip, ua: r.userAgent, traceId: r.traceId });

interface Row {
  run_id: string;
  created_at: number;
  requested_by: string;
  request_meta: string | null;
  key_name: string | null;
}

/** This shard's run creations matching `filter`, newest first, at most `limit + 1`. */
export function runCreations(sql: SqlStorage, filter: AuditFilter): AuditRecord[] {
  if (filter.action && filter.action !== "run.create") return [];
  if (filter.target && !filter.target.startsWith("run:")) return [];
  const { where, params } = auditWhere(
    { ...filter, action: undefined, target: filter.target?.slice(4) },
    {
      at: "r.created_at",
      id: "('run.create:' || r.run_id)",
      action: "''",
      actor: "r.requested_by",
      target: "r.run_id",
    },
  );
  const rows = all<Row>(
    sql,
    `SELECT r.run_id, r.created_at, r.requested_by, r.request_meta, k.name AS key_name FROM run_index r
       LEFT JOIN api_key k ON r.requested_by = 'key:' || k.id
       ${where ? `${where} AND` : "WHERE"} r.requested_by IS NOT NULL
       ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?`,
    ...params,
    filter.limit + 1,
  );
  return rows.map((r) => {
    const meta = r.request_meta ? (JSON.parse(r.request_meta) as { ip?: string; ua?: string; traceId?: string }) : {};
    return {
      id: `run.create:${r.run_id}`,
      at: r.created_at,
      action: "run.create",
      actor: r.requested_by,
      actorName: r.key_name,
      target: `run:${r.run_id}`,
      ip: meta.ip ?? null,
      userAgent: meta.ua ?? null,
      traceId: meta.traceId ?? null,
    };
  });
}

/** Shards' pages of run creations as one: newest first, one more than asked (the next page's sign). */
export const mergeCreations =
  (limit: number) =>
  (pages: AuditRecord[][]): AuditRecord[] =>
    pages
      .flat()
      .sort(newestFirst)
      .slice(0, limit + 1);
