/**
 * A step's rate key in its FlowObject (docs/flow-control.md, "Step keys"): at most `limit` tokens
 * in any `periodMs`, a sliding log of the tokens taken in the object's SQLite. A ticket (a run's
 * step) asks for a token for one attempt; it is granted while fewer than `limit` were taken in the
 * last `periodMs` and nobody waits before it, or queued by priority then arrival, and granted by
 * the object's alarm when the oldest token in the window leaves it. A grant is a `rate_take` row
 * written in the transaction that decides it (one per ticket and attempt: asking again answers the
 * same grant), and its step is told, again by the alarm until told, so a kill loses nothing.
 */
import { PRIORITY_RANK } from "../tenant/runs";
import { aggregate, all, type Migration } from "../sqlite";
import { logError } from "../../lib/log";
import type { RateAsk, RateState } from "./stub";

export const RATE_MIGRATION: Migration = [
  `CREATE TABLE rate_key (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, key TEXT NOT NULL,
     max_takes INTEGER NOT NULL, period_ms INTEGER NOT NULL)`,
  // A token taken: for the ticket's attempt, when; notified: the step was told (or learnt it from its answer).
  `CREATE TABLE rate_take (ticket TEXT NOT NULL, attempt INTEGER NOT NULL, taken_at INTEGER NOT NULL,
     notified INTEGER NOT NULL, PRIMARY KEY (ticket, attempt))`,
  `CREATE INDEX rate_take_at ON rate_take (taken_at)`,
  `CREATE TABLE rate_waiter (seq INTEGER PRIMARY KEY AUTOINCREMENT, ticket TEXT NOT NULL UNIQUE,
     attempt INTEGER NOT NULL, priority INTEGER NOT NULL, asked_at INTEGER NOT NULL)`,
  `CREATE INDEX rate_waiter_order ON rate_waiter (priority, seq)`,
];

/** A token the step was not told of is told again after this. */
const RETELL_MS = 2_000;

type Grant = [ticket: string, attempt: number];

/** A token's time, for the step's log. */
const takenAt = (sql: SqlStorage, ticket: string, attempt: number): number | undefined =>
  all<{ taken_at: number }>(sql, "SELECT taken_at FROM rate_take WHERE ticket = ? AND attempt = ?", ticket, attempt)[0]
    ?.taken_at;

export class RateWindow {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
    private readonly tellOne: (ticket: string, attempt: number, at: number | undefined) => Promise<void>,
  ) {}

  /** Grants the ticket's attempt a token now or queues it; returns whether it was, and who else was granted. */
  acquire(
    tenantId: string,
    key: string,
    ask: RateAsk,
    now: number,
  ): { granted: boolean; at?: number; others: Grant[] } {
    const others = this.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO rate_key (id, tenant_id, key, max_takes, period_ms) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET max_takes = excluded.max_takes, period_ms = excluded.period_ms`,
        tenantId,
        key,
        ask.limit,
        ask.periodMs,
      );
      if (!this.taken(ask.ticket, ask.attempt))
        this.sql.exec(
          `INSERT INTO rate_waiter (ticket, attempt, priority, asked_at) VALUES (?,?,?,?)
           ON CONFLICT (ticket) DO UPDATE SET attempt = excluded.attempt`,
          ask.ticket,
          ask.attempt,
          PRIORITY_RANK[ask.priority],
          now,
        );
      return this.grant(now);
    });
    const at = takenAt(this.sql, ask.ticket, ask.attempt);
    const granted = at !== undefined;
    // The asker learns of its token from this answer; the others are told by the caller.
    if (granted)
      this.sql.exec("UPDATE rate_take SET notified = 1 WHERE ticket = ? AND attempt = ?", ask.ticket, ask.attempt);
    return {
      granted,
      ...(at !== undefined ? { at } : {}),
      others: others.filter(([t, a]) => t !== ask.ticket || a !== ask.attempt),
    };
  }

  /** The ticket leaves the queue. Returns whoever that let in (none: a token is freed by time only). */
  release(ticket: string, now: number): Grant[] {
    if (!this.present()) return [];
    return this.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM rate_waiter WHERE ticket = ?", ticket);
      return this.grant(now);
    });
  }

  /** The alarm: tells grants not yet told, lets waiters in as the window frees, forgets tokens past it. */
  async wake(now: number): Promise<void> {
    if (!this.present()) return;
    const granted = this.storage.transactionSync(() => this.grant(now));
    const untold = all<{ ticket: string; attempt: number }>(
      this.sql,
      "SELECT ticket, attempt FROM rate_take WHERE notified = 0",
    ).map((r): Grant => [r.ticket, r.attempt]);
    const fresh = new Set(granted.map(([t, a]) => `${t}\n${a}`));
    await this.tell([...granted, ...untold.filter(([t, a]) => !fresh.has(`${t}\n${a}`))]);
    const period = this.period();
    if (period !== null) this.sql.exec("DELETE FROM rate_take WHERE taken_at <= ? AND notified = 1", now - period);
  }

  async tell(grants: Grant[]): Promise<void> {
    await Promise.all(
      grants.map(async ([ticket, attempt]) => {
        try {
          await this.tellOne(ticket, attempt, takenAt(this.sql, ticket, attempt));
          this.sql.exec("UPDATE rate_take SET notified = 1 WHERE ticket = ? AND attempt = ?", ticket, attempt);
        } catch (err) {
          logError("flow.rate_tell_failed", { ticket, error: String(err) });
        }
      }),
    );
  }

  /** When the alarm is next needed for this key: a retell, the window freeing for a waiter, or the last token leaving it. */
  nextAt(now: number): number | null {
    const period = this.period();
    if (period === null) return null;
    const untold = aggregate<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM rate_take WHERE notified = 0").n;
    if (untold > 0) return now + RETELL_MS;
    const waiting = aggregate<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM rate_waiter").n;
    const edge = waiting > 0 ? "MIN" : "MAX";
    const at = aggregate<{ at: number | null }>(
      this.sql,
      `SELECT ${edge}(taken_at) AS at FROM rate_take WHERE taken_at > ?`,
      now - period,
    ).at;
    // The oldest token leaving the window lets a waiter in; the newest leaving it lets the key forget itself.
    return at === null ? (waiting > 0 ? now : null) : at + period + 1;
  }

  /** Nobody waits, every grant was told, and no token is still in the window. */
  idle(now: number): boolean {
    const period = this.period();
    if (period === null) return true;
    return (
      aggregate<{ n: number }>(
        this.sql,
        `SELECT (SELECT COUNT(*) FROM rate_waiter) + (SELECT COUNT(*) FROM rate_take WHERE notified = 0 OR taken_at > ?) AS n`,
        now - period,
      ).n === 0
    );
  }

  meta(): { tenant_id: string; key: string } | null {
    return all<{ tenant_id: string; key: string }>(this.sql, "SELECT tenant_id, key FROM rate_key")[0] ?? null;
  }

  state(now: number): RateState {
    const row = all<{ key: string; max_takes: number; period_ms: number }>(
      this.sql,
      "SELECT key, max_takes, period_ms FROM rate_key",
    )[0];
    return {
      key: row?.key ?? null,
      limit: row?.max_takes ?? null,
      periodMs: row?.period_ms ?? null,
      taken: all<{ ticket: string; attempt: number; taken_at: number }>(
        this.sql,
        "SELECT ticket, attempt, taken_at FROM rate_take WHERE taken_at > ? ORDER BY taken_at",
        now - (row?.period_ms ?? 0),
      ).map((r) => ({ ticket: r.ticket, attempt: r.attempt, at: r.taken_at })),
      waiters: all<{ ticket: string }>(this.sql, "SELECT ticket FROM rate_waiter ORDER BY priority, seq").map(
        (r) => r.ticket,
      ),
    };
  }

  /** Lets waiters in, by priority then arrival, while the window has tokens; returns those let in. */
  private grant(now: number): Grant[] {
    const row = all<{ max_takes: number; period_ms: number }>(this.sql, "SELECT max_takes, period_ms FROM rate_key")[0];
    if (!row) return [];
    const used = aggregate<{ n: number }>(
      this.sql,
      "SELECT COUNT(*) AS n FROM rate_take WHERE taken_at > ?",
      now - row.period_ms,
    ).n;
    if (used >= row.max_takes) return [];
    const next = all<{ seq: number; ticket: string; attempt: number }>(
      this.sql,
      "SELECT seq, ticket, attempt FROM rate_waiter ORDER BY priority, seq LIMIT ?",
      row.max_takes - used,
    );
    for (const w of next) {
      this.sql.exec("DELETE FROM rate_waiter WHERE seq = ?", w.seq);
      this.sql.exec(
        "INSERT INTO rate_take (ticket, attempt, taken_at, notified) VALUES (?,?,?,0) ON CONFLICT DO NOTHING",
        w.ticket,
        w.attempt,
        now,
      );
    }
    return next.map((w): Grant => [w.ticket, w.attempt]);
  }

  private taken(ticket: string, attempt: number): boolean {
    return all(this.sql, "SELECT 1 FROM rate_take WHERE ticket = ? AND attempt = ?", ticket, attempt).length > 0;
  }

  private period(): number | null {
    return aggregate<{ p: number | null }>(this.sql, "SELECT MAX(period_ms) AS p FROM rate_key").p;
  }

  /** Whether this object holds a rate key at all (a concurrency key's object never does). */
  private present(): boolean {
    return this.period() !== null;
  }
}
