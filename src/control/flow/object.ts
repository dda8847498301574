/**
 * A concurrency key's slots and queue (issue 28, docs/flow-control.md): one Durable Object per
 * tenant and resolved key, so every admission of the key is decided in one place, one call at a
 * time, whichever tenant shard indexed the run — no double admission across shards.
 *
 * A run asks for a slot (`acquire`, from its outbox, again until answered: idempotent on the run
 * id); it is granted at once while fewer than `limit` runs hold one and nobody waits before it,
 * or queued, by priority then arrival. A grant is a `holder` row written in the transaction that
 * decides it; the run is then told (`granted`), again by the alarm until told, so a kill of either
 * side loses nothing. A run's end releases its slot (its outbox's `release`); the alarm also asks
 * each holder's run now and then whether it still holds the key and reclaims the slot of a run
 * that does not (its release was lost, or its object emptied), so a slot is never leaked. A key
 * that nobody holds or waits for forgets itself (its storage deleted) after `IDLE_MS`.
 */
import { DurableObject } from "cloudflare:workers";
import type { Priority } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { logError } from "../../lib/log";
import { runStub } from "../run/stub";
import { PRIORITY_RANK } from "../tenant/runs";
import { aggregate, all, migrate, migratedSql, type Migration } from "../sqlite";
import type { FlowState, FlowStub } from "./stub";

export const FLOW_MIGRATIONS: readonly Migration[] = [
  [
    // One row: whose key this is, and its limit (the latest acquirer's).
    `CREATE TABLE flow_key (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, key TEXT NOT NULL, max_running INTEGER NOT NULL)`,
    // Runs holding a slot; notified: the run was told (or learnt it from its acquire's answer).
    `CREATE TABLE holder (run_id TEXT PRIMARY KEY, granted_at INTEGER NOT NULL, notified INTEGER NOT NULL, checked_at INTEGER NOT NULL)`,
    `CREATE TABLE waiter (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, priority INTEGER NOT NULL, asked_at INTEGER NOT NULL)`,
    `CREATE INDEX waiter_order ON waiter (priority, seq)`,
  ],
];

/** How often a holder's run is asked whether it still holds the key (a lost release is reclaimed by then). */
export const CHECK_MS = 30_000;
/** A grant the run was not told of is told again after this. */
const RETELL_MS = 2_000;
/** How long a key nobody holds or waits for is kept before it forgets itself. */
const IDLE_MS = 60_000;
/** Holders' runs asked per alarm. */
const CHECK_BATCH = 50;

export class FlowObject extends DurableObject<Env> implements FlowStub {
  private readonly sql = migratedSql(this.ctx, FLOW_MIGRATIONS);
  /** The storage was deleted (the key was idle): the schema is made again before the next use. */
  private dropped = false;

  /** Asks for a slot for `runId`: granted now, or queued (the run is told when it is granted). */
  async acquire(
    tenantId: string,
    key: string,
    ask: { runId: string; limit: number; priority: Priority },
  ): Promise<{ granted: boolean }> {
    this.ready();
    const now = Date.now();
    const others = this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO flow_key (id, tenant_id, key, max_running) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET max_running = excluded.max_running`,
        tenantId,
        key,
        ask.limit,
      );
      if (!this.holds(ask.runId))
        this.sql.exec(
          "INSERT INTO waiter (run_id, priority, asked_at) VALUES (?,?,?) ON CONFLICT (run_id) DO NOTHING",
          ask.runId,
          PRIORITY_RANK[ask.priority],
          now,
        );
      return this.grant(now);
    });
    const granted = this.holds(ask.runId);
    // The asker learns of its grant from this answer; the others are told now.
    if (granted) this.sql.exec("UPDATE holder SET notified = 1 WHERE run_id = ?", ask.runId);
    await this.tell(others.filter((id) => id !== ask.runId));
    await this.plan(now);
    return { granted };
  }

  /** The run ended (or gave up its place): its slot or its place in the queue is freed. Idempotent. */
  async release(_tenantId: string, _key: string, runId: string): Promise<void> {
    this.ready();
    const now = Date.now();
    const granted = this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM holder WHERE run_id = ?", runId);
      this.sql.exec("DELETE FROM waiter WHERE run_id = ?", runId);
      return this.grant(now);
    });
    await this.tell(granted);
    await this.plan(now);
  }

  /** Who holds and who waits, in order (tests, and an operator's look). */
  async state(): Promise<FlowState> {
    this.ready();
    const row = all<{ key: string; max_running: number }>(this.sql, "SELECT key, max_running FROM flow_key")[0];
    return {
      key: row?.key ?? null,
      limit: row?.max_running ?? null,
      holders: all<{ run_id: string }>(this.sql, "SELECT run_id FROM holder ORDER BY granted_at, run_id").map(
        (r) => r.run_id,
      ),
      waiters: all<{ run_id: string }>(this.sql, "SELECT run_id FROM waiter ORDER BY priority, seq").map(
        (r) => r.run_id,
      ),
    };
  }

  /** Tells runs of grants they missed, reclaims slots of runs gone, and forgets the key once idle. */
  override async alarm(): Promise<void> {
    this.ready();
    const now = Date.now();
    const untold = all<{ run_id: string }>(this.sql, "SELECT run_id FROM holder WHERE notified = 0");
    await this.tell(untold.map((r) => r.run_id));
    await this.reclaim(now);
    if (this.idle()) {
      await this.ctx.storage.deleteAll();
      this.dropped = true;
      return;
    }
    await this.plan(now);
  }

  /** Holders not asked for CHECK_MS are asked whether their run still holds the key; those gone free their slot. */
  private async reclaim(now: number): Promise<void> {
    const meta = all<{ tenant_id: string; key: string }>(this.sql, "SELECT tenant_id, key FROM flow_key")[0];
    if (!meta) return;
    const due = all<{ run_id: string }>(
      this.sql,
      "SELECT run_id FROM holder WHERE checked_at <= ? ORDER BY checked_at LIMIT ?",
      now - CHECK_MS,
      CHECK_BATCH,
    );
    for (const { run_id } of due) {
      let holds: boolean;
      try {
        holds = await runStub(this.env, run_id).holdsKey(meta.tenant_id, meta.key);
      } catch (err) {
        logError("flow.check_failed", { runId: run_id, error: String(err) });
        continue;
      }
      if (holds) this.sql.exec("UPDATE holder SET checked_at = ? WHERE run_id = ?", now, run_id);
      else await this.release(meta.tenant_id, meta.key, run_id);
    }
  }

  /** Grants waiting runs, by priority then arrival, while slots are free; returns those granted. */
  private grant(now: number): string[] {
    const limit = aggregate<{ n: number | null }>(this.sql, "SELECT MAX(max_running) AS n FROM flow_key").n ?? 0;
    const held = aggregate<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM holder").n;
    if (held >= limit) return [];
    const next = all<{ seq: number; run_id: string }>(
      this.sql,
      "SELECT seq, run_id FROM waiter ORDER BY priority, seq LIMIT ?",
      limit - held,
    );
    for (const w of next) {
      this.sql.exec("DELETE FROM waiter WHERE seq = ?", w.seq);
      this.sql.exec(
        "INSERT INTO holder (run_id, granted_at, notified, checked_at) VALUES (?,?,0,?) ON CONFLICT (run_id) DO NOTHING",
        w.run_id,
        now,
        now,
      );
    }
    return next.map((w) => w.run_id);
  }

  /** Tells each run of its grant; one that cannot be told now is told by the alarm. */
  private async tell(runIds: string[]): Promise<void> {
    const meta = all<{ tenant_id: string; key: string }>(this.sql, "SELECT tenant_id, key FROM flow_key")[0];
    if (!meta || runIds.length === 0) return;
    await Promise.all(
      runIds.map(async (runId) => {
        try {
          await runStub(this.env, runId).granted(meta.tenant_id, meta.key);
          this.sql.exec("UPDATE holder SET notified = 1 WHERE run_id = ?", runId);
        } catch (err) {
          logError("flow.tell_failed", { runId, error: String(err) });
        }
      }),
    );
  }

  /** The alarm comes for the first of: a grant to tell again, a holder to check, the key's idle end. */
  private async plan(now: number): Promise<void> {
    const untold = aggregate<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM holder WHERE notified = 0").n;
    const oldest = aggregate<{ at: number | null }>(this.sql, "SELECT MIN(checked_at) AS at FROM holder").at;
    const at = untold > 0 ? now + RETELL_MS : oldest !== null ? oldest + CHECK_MS : this.idle() ? now + IDLE_MS : null;
    if (at === null) return;
    const current = await this.ctx.storage.getAlarm();
    // An earlier alarm stands (it plans again when it fires); a later one is moved up.
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private idle(): boolean {
    return (
      aggregate<{ n: number }>(this.sql, "SELECT (SELECT COUNT(*) FROM holder) + (SELECT COUNT(*) FROM waiter) AS n")
        .n === 0
    );
  }

  private holds(runId: string): boolean {
    return all(this.sql, "SELECT 1 FROM holder WHERE run_id = ?", runId).length > 0;
  }

  /** After an idle key's storage was deleted, its schema is made again for its next run. */
  private ready(): void {
    if (!this.dropped) return;
    migrate(this.sql, FLOW_MIGRATIONS);
    this.dropped = false;
  }
}
