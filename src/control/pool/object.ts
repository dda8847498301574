/**
 * The Pool Durable Object, one per external worker pool: where steps for workers outside
 * Cloudflare (long CPU, GPUs, private networks) wait to be leased over HTTP, and the hashes of
 * the pool's worker tokens. It only holds what is waiting; the run's own object stays the
 * authority (fencing, leases, retries), so a lease taken and never used simply lapses there.
 */
import { DurableObject } from "cloudflare:workers";
import type { StepMessage } from "../../../schema/messages";
import type { Env } from "../../env";
import { newKeyId, newSecret, sha256Hex, timingSafeEqualHex } from "../../lib/crypto";
import { migrate, type Migration } from "../sqlite";

const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE waiting (
      run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL, body TEXT NOT NULL, enqueued_at INTEGER NOT NULL,
      PRIMARY KEY (run_id, step_id, attempt))`,
    `CREATE INDEX waiting_order ON waiting (enqueued_at)`,
    `CREATE TABLE worker_token (id TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
  ],
];

export class PoolObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, MIGRATIONS);
    });
  }

  /** Steps dispatched to this pool (idempotent: a re-sent dispatch is stored once). */
  async offer(messages: StepMessage[]): Promise<void> {
    const now = Date.now();
    for (const m of messages) {
      this.sql.exec(
        "INSERT INTO waiting (run_id, step_id, attempt, body, enqueued_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        m.runId, m.stepId, m.attempt, JSON.stringify(m), now,
      );
    }
    for (const wake of this.waiters) wake();
  }

  /** The oldest waiting step, removed; waits up to `waitMs` for one to arrive (long poll). */
  async take(waitMs: number): Promise<StepMessage | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const row = this.sql.exec<{ run_id: string; step_id: string; attempt: number; body: string }>(
        "DELETE FROM waiting WHERE rowid = (SELECT rowid FROM waiting ORDER BY enqueued_at LIMIT 1) RETURNING run_id, step_id, attempt, body",
      ).toArray()[0];
      if (row) return JSON.parse(row.body) as StepMessage;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const wake = () => (clearTimeout(timer), this.waiters.delete(wake), resolve());
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Backlog signals for an operator or an autoscaler of external workers. */
  async backlog(): Promise<{ waiting: number; oldestAgeMs: number | null }> {
    const row = this.sql.exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM waiting").one();
    return { waiting: row.n, oldestAgeMs: row.oldest === null ? null : Date.now() - row.oldest };
  }

  async createToken(pool: string): Promise<{ id: string; token: string }> {
    const id = newKeyId();
    const secret = newSecret();
    this.sql.exec("INSERT INTO worker_token (id, hash, created_at) VALUES (?, ?, ?)", id, await sha256Hex(secret), Date.now());
    return { id, token: `fwk_${pool}_${id}_${secret}` };
  }

  async verifyToken(id: string, secretHash: string): Promise<boolean> {
    const row = this.sql.exec<{ hash: string; revoked_at: number | null }>("SELECT hash, revoked_at FROM worker_token WHERE id = ?", id).toArray()[0];
    return !!row && row.revoked_at === null && timingSafeEqualHex(row.hash, secretHash);
  }

  async revokeToken(id: string): Promise<boolean> {
    return this.sql.exec("UPDATE worker_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Date.now(), id).rowsWritten > 0;
  }
}
