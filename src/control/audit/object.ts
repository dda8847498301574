/**
 * The Audit Durable Object: one per tenant (addressed by the tenant's id), the trail of every
 * control and configuration change (docs/audit.md). Apart from the tenant object on purpose: it is
 * written once per control request, never on a run's hot path (run creations are read from the
 * run index the tenant's shards already keep, src/control/tenant/run-audit.ts). Entries older
 * than the retention (AUDIT_RETENTION_DAYS, default 365) are archived to R2 and then pruned by
 * its alarm, a bounded batch at a time (archive.ts).
 */
import { DurableObject } from "cloudflare:workers";
import type { AuditFilter, AuditRecord } from "../../../schema/audit";
import { type Env, numberVar } from "../../env";
import { Alarm } from "../alarms";
import { all, type Migration, migrate } from "../sqlite";
import { archiveBatch, type AuditRow as Row } from "./archive";
import { auditWhere } from "./query";

/** Exported for the upgrade tests (test/integration/upgrades.test.ts). */
export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE audit (id TEXT PRIMARY KEY, at INTEGER NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL,
       actor_name TEXT, target TEXT NOT NULL, ip TEXT, user_agent TEXT, trace_id TEXT)`,
    `CREATE INDEX audit_at ON audit (at DESC, id DESC)`,
  ],
];

export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;
/** Rows archived and deleted per alarm: a large backlog is moved over several alarms, none of them long. */
const PRUNE_BATCH = 2_000;

export class AuditObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly alarmClock: Alarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.alarmClock = new Alarm(ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, MIGRATIONS);
      await this.alarmClock.load();
    });
  }

  /** Records an entry; the same id twice (a retried request's write) is one entry. */
  async record(entry: AuditRecord): Promise<void> {
    this.sql.exec(
      `INSERT INTO audit (id, at, action, actor, actor_name, target, ip, user_agent, trace_id)
       VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
      entry.id,
      entry.at,
      entry.action,
      entry.actor,
      entry.actorName,
      entry.target,
      entry.ip,
      entry.userAgent,
      entry.traceId,
    );
    // The first entry arms the daily prune; later ones find it armed.
    if (this.alarmClock.dueAt === null) await this.alarmClock.sync(Date.now() + DAY_MS);
  }

  /** A page of entries, newest first, at most `limit + 1` (the caller learns whether more follow). */
  query(filter: AuditFilter): AuditRecord[] {
    const { where, params } = auditWhere(filter, {
      at: "at",
      id: "id",
      action: "action",
      actor: "actor",
      target: "target",
    });
    return all<Row>(
      this.sql,
      `SELECT * FROM audit ${where} ORDER BY at DESC, id DESC LIMIT ?`,
      ...params,
      filter.limit + 1,
    ).map((r) => ({
      id: r.id,
      at: r.at,
      action: r.action,
      actor: r.actor,
      actorName: r.actor_name,
      target: r.target,
      ip: r.ip,
      userAgent: r.user_agent,
      traceId: r.trace_id,
    }));
  }

  /** Deletes the tenant's trail (the tenant is purged); idempotent. */
  forgetAll(): number {
    return this.sql.exec("DELETE FROM audit").rowsWritten;
  }

  /** Archives up to `limit` entries older than the retention to R2, then deletes them; how many. */
  async archiveOld(limit = PRUNE_BATCH, now = Date.now()): Promise<number> {
    const days = numberVar(this.env.AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION_DAYS);
    return archiveBatch(this.sql, this.env.ARTIFACTS, this.ctx.id.name ?? "", now - days * DAY_MS, limit);
  }

  /**
   * Archives and prunes entries past the retention; comes back soon while a batch was full, else
   * tomorrow. A failed write to R2 deletes nothing, and the alarm is retried.
   */
  override async alarm(): Promise<void> {
    this.alarmClock.fired();
    const deleted = await this.archiveOld();
    const left = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM audit").one().n;
    if (left === 0) return;
    await this.alarmClock.sync(Date.now() + (deleted >= PRUNE_BATCH ? 1_000 : DAY_MS));
  }
}
