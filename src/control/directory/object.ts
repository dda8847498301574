/**
 * The tenant directory: which tenants exist, for platform-wide (admin) views. Sharded by a hash
 * of the tenant id so that no single object holds every tenant, and written only when a tenant is
 * created — never on a request's or a run's path, where each tenant's own object is the authority.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../env";
import { all, migrate, type Migration } from "../sqlite";

const MIGRATIONS: readonly Migration[] = [[`CREATE TABLE tenant (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)`]];

export class DirectoryObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  /** Idempotent. */
  async add(tenantId: string): Promise<void> {
    this.sql.exec("INSERT INTO tenant (id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", tenantId, Date.now());
  }

  async list(): Promise<string[]> {
    return all<{ id: string }>(this.sql, "SELECT id FROM tenant ORDER BY id").map((r) => r.id);
  }
}
