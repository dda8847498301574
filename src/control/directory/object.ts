/**
 * The tenant directory: which tenants exist, for platform-wide (admin) views. Sharded by a hash
 * of the tenant id so that no single object holds every tenant, and written only when a tenant is
 * created or purged — never on a request's or a run's path, where each tenant's own object is the
 * authority. It also keeps the audit record of each purge: the tenant's own object is deleted by
 * the purge, so the record of who asked, when, and what went must live here.
 */
import { DurableObject } from "cloudflare:workers";
import type { PurgeAudit, PurgeCounts } from "../../../schema/tenants";
import type { Env } from "../../env";
import { all, json, migrate, type Migration } from "../sqlite";

export const MIGRATIONS: readonly Migration[] = [
  [`CREATE TABLE tenant (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)`],
  [
    // One row per purge request (a tenant id re-created after its purge may be purged again).
    `CREATE TABLE purge (
      tenant_id TEXT NOT NULL, requested_at INTEGER NOT NULL, reason TEXT NOT NULL, requested_by TEXT NOT NULL,
      finished_at INTEGER, counts TEXT, PRIMARY KEY (tenant_id, requested_at))`,
  ],
];

interface PurgeRow {
  tenant_id: string;
  requested_at: number;
  reason: string;
  requested_by: string;
  finished_at: number | null;
  counts: string | null;
}

/** Who asked for a purge, why and when: what the tenant's object hands the directory. */
export interface PurgeRequest {
  reason: string;
  requestedBy: string;
  requestedAt: number;
}

export class DirectoryObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  /** Idempotent. "purging" (and nothing listed) while a purge of this tenant id is under way. */
  async add(tenantId: string): Promise<"ok" | "purging"> {
    if (this.purging(tenantId)) return "purging";
    this.sql.exec("INSERT INTO tenant (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", tenantId, Date.now());
    return "ok";
  }

  async list(): Promise<string[]> {
    return all<{ id: string }>(this.sql, "SELECT id FROM tenant ORDER BY id").map((r) => r.id);
  }

  /** A purge began: the tenant leaves the list (platform views stop asking its object) and the audit starts. */
  async purgeStarted(tenantId: string, request: PurgeRequest): Promise<void> {
    this.sql.exec("DELETE FROM tenant WHERE id = ?", tenantId);
    this.sql.exec(
      `INSERT INTO purge (tenant_id, requested_at, reason, requested_by) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      tenantId,
      request.requestedAt,
      request.reason,
      request.requestedBy,
    );
  }

  /** The purge finished (called again after a kill: the first call's record stands). */
  async purgeFinished(tenantId: string, request: PurgeRequest, counts: PurgeCounts): Promise<void> {
    this.sql.exec("DELETE FROM tenant WHERE id = ?", tenantId);
    this.sql.exec(
      `INSERT INTO purge (tenant_id, requested_at, reason, requested_by, finished_at, counts) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, requested_at) DO UPDATE SET finished_at = COALESCE(purge.finished_at, excluded.finished_at),
         counts = COALESCE(purge.counts, excluded.counts)`,
      tenantId,
      request.requestedAt,
      request.reason,
      request.requestedBy,
      Date.now(),
      json.write(counts),
    );
  }

  /** The tenant id's purges, newest first. */
  async purges(tenantId: string): Promise<PurgeAudit[]> {
    return all<PurgeRow>(
      this.sql,
      "SELECT * FROM purge WHERE tenant_id = ? ORDER BY requested_at DESC LIMIT 20",
      tenantId,
    ).map((r) => ({
      tenantId: r.tenant_id,
      reason: r.reason,
      requestedBy: r.requested_by,
      requestedAt: new Date(r.requested_at).toISOString(),
      finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
      counts: json.read<PurgeCounts>(r.counts),
    }));
  }

  private purging(tenantId: string): boolean {
    return (
      all(this.sql, "SELECT 1 FROM purge WHERE tenant_id = ? AND finished_at IS NULL LIMIT 1", tenantId).length > 0
    );
  }
}
