/**
 * Home's record of how many shards its tenant ever had (./shards.ts): readers of the run index ask
 * that many, so runs opened on a shard before `shards` was lowered are still listed and counted.
 * Read once per object lifetime; it only grows.
 */
import type { TenantSync } from "../../../schema/run";
import { all } from "../sqlite";
import { SETTLE_BATCH, SETTLE_DELAY_MS } from "./shards";

export class ShardSpan {
  private cached: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  high(): number {
    this.cached ??= all<{ high: number }>(this.sql, "SELECT high FROM shard_span WHERE id = 0")[0]?.high ?? 1;
    return this.cached;
  }

  raise(n: number): void {
    if (n <= this.high()) return;
    this.sql.exec(
      "INSERT INTO shard_span (id, high) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET high = MAX(high, excluded.high)",
      n,
    );
    this.cached = n;
  }
}

/** A shard's final syncs waiting for home (./shards.ts, SETTLE_DELAY_MS): kept in SQLite, so none is lost. */
export class Settlements {
  /** When the oldest waiting one is due; undefined until read. Not persisted: read again after eviction. */
  private dueAt: number | null | undefined;

  constructor(private readonly sql: SqlStorage) {}

  keep(sync: TenantSync, now: number): void {
    this.sql.exec(
      "INSERT INTO settlement (run_id, sync, at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET sync = excluded.sync",
      sync.runId,
      JSON.stringify(sync),
      now,
    );
    const due = now + SETTLE_DELAY_MS;
    const current = this.nextDue();
    this.dueAt = current === null ? due : Math.min(current, due);
  }

  nextDue(): number | null {
    if (this.dueAt === undefined) {
      const at = all<{ at: number | null }>(this.sql, "SELECT MIN(at) AS at FROM settlement")[0]?.at;
      this.dueAt = at == null ? null : at + SETTLE_DELAY_MS;
    }
    return this.dueAt;
  }

  /** The batch to hand over now (oldest first), or none before the first is due. */
  due(now: number): { runId: string; sync: TenantSync }[] {
    const next = this.nextDue();
    if (next === null || next > now) return [];
    return all<{ run_id: string; sync: string }>(
      this.sql,
      "SELECT run_id, sync FROM settlement ORDER BY at LIMIT ?",
      SETTLE_BATCH,
    ).map((r) => ({ runId: r.run_id, sync: JSON.parse(r.sync) as TenantSync }));
  }

  /** Which of `runIds` have a final sync still waiting to reach home. */
  waiting(runIds: string[]): Set<string> {
    if (runIds.length === 0) return new Set();
    return new Set(
      all<{ run_id: string }>(
        this.sql,
        `SELECT run_id FROM settlement WHERE run_id IN (${runIds.map(() => "?").join(",")})`,
        ...runIds,
      ).map((r) => r.run_id),
    );
  }

  settled(runIds: string[]): void {
    for (const id of runIds) this.sql.exec("DELETE FROM settlement WHERE run_id = ?", id);
    this.dueAt = undefined;
  }

  /** After a failed hand-over: try again a delay later. */
  retryLater(now: number): void {
    this.dueAt = now + SETTLE_DELAY_MS;
  }
}

/** The runs counted against a month's quota on this object. */
export function quotaUsed(sql: SqlStorage, month: string): number {
  return all<{ runs: number }>(sql, "SELECT runs FROM quota_month WHERE month = ?", month)[0]?.runs ?? 0;
}

/** Sets this object's count for a month (home re-dealing the quota over a new shard count). */
export function setQuotaUsed(sql: SqlStorage, month: string, runs: number): void {
  sql.exec(
    "INSERT INTO quota_month (month, runs) VALUES (?, ?) ON CONFLICT (month) DO UPDATE SET runs = excluded.runs",
    month,
    runs,
  );
}
