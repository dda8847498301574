/**
 * The Pool Durable Object, one per external worker pool: where steps for workers outside
 * Cloudflare (long CPU, GPUs, private networks) wait to be leased over HTTP, the hashes of the
 * pool's worker tokens, and the leases it issued. A lease id is an unguessable secret bound to the
 * token that took it, so a worker can only ever touch the attempts this pool handed to it; the
 * run's own object stays the authority on whether that attempt is still current (fencing,
 * timeouts, retries), so a lease taken and never used simply lapses there.
 */
import { DurableObject } from "cloudflare:workers";
import type { StepMessage } from "../../../schema/messages";
import type { Env } from "../../env";
import { newKeyId, newSecret, sha256Hex, timingSafeEqualHex } from "../../lib/crypto";
import { LIMITS } from "../../../schema/api";
import { LEASE_ID } from "../../../schema/ids";
import { migrate, one, type Migration } from "../sqlite";
import { Waiters } from "../waiters";

export const MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE waiting (
      run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL, body TEXT NOT NULL, enqueued_at INTEGER NOT NULL,
      PRIMARY KEY (run_id, step_id, attempt))`,
    `CREATE INDEX waiting_order ON waiting (enqueued_at)`,
    `CREATE TABLE worker_token (id TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
  ],
  [
    // Keyed by the lease id's hash: the id is a bearer secret, and only its holder knows it.
    `CREATE TABLE lease (
      hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
      expires_at INTEGER NOT NULL)`,
    `CREATE INDEX lease_expiry ON lease (expires_at)`,
  ],
];

/** The attempt a lease names. */
export interface HeldLease {
  runId: string;
  stepId: string;
  attempt: number;
}

/**
 * A lease row outlives any attempt it can name (a step's timeout is at most an hour), so the run
 * object, not this row's expiry, is what ends a lease; the row only has to go eventually.
 */
const LEASE_ROW_TTL_MS = LIMITS.timeoutMs.max + 60 * 60 * 1000;
/** Expired lease rows deleted per take: bounded work, and the table cannot grow without limit. */
const PRUNE_BATCH = 100;

export class PoolObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiters = new Waiters();

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
        m.runId,
        m.stepId,
        m.attempt,
        JSON.stringify(m),
        now,
      );
    }
    this.waiters.wakeAll();
  }

  /**
   * The oldest waiting step, removed, with a new lease on it for `tokenId`; waits up to `waitMs`
   * for one to arrive (long poll).
   */
  async take(tokenId: string, waitMs: number): Promise<{ message: StepMessage; leaseId: string } | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const row = one<{ body: string }>(
        this.sql,
        "DELETE FROM waiting WHERE rowid = (SELECT rowid FROM waiting ORDER BY enqueued_at LIMIT 1) RETURNING body",
      );
      if (row) {
        const message = JSON.parse(row.body) as StepMessage;
        const leaseId = `lse_${newSecret()}`;
        const now = Date.now();
        this.sql.exec(
          "DELETE FROM lease WHERE rowid IN (SELECT rowid FROM lease WHERE expires_at <= ? LIMIT ?)",
          now,
          PRUNE_BATCH,
        );
        this.sql.exec(
          "INSERT INTO lease (hash, token_id, run_id, step_id, attempt, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
          await sha256Hex(leaseId),
          tokenId,
          message.runId,
          message.stepId,
          message.attempt,
          now + LEASE_ROW_TTL_MS,
        );
        return { message, leaseId };
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await this.waiters.wait(left);
    }
  }

  /**
   * One call per worker request: the token is live, and the lease it names (if any) was issued
   * to this very token. `lease: null` with a lease id asked for means "not yours, or not at all":
   * the caller answers 404 either way, so nothing tells a guesser which.
   */
  async authorize(
    tokenId: string,
    secretHash: string,
    leaseId: string | null,
  ): Promise<{ ok: false } | { ok: true; lease: HeldLease | null }> {
    if (!this.verifyToken(tokenId, secretHash)) return { ok: false };
    if (leaseId === null || !LEASE_ID.test(leaseId)) return { ok: true, lease: null };
    const row = one<{ run_id: string; step_id: string; attempt: number }>(
      this.sql,
      "SELECT run_id, step_id, attempt FROM lease WHERE hash = ? AND token_id = ? AND expires_at > ?",
      await sha256Hex(leaseId),
      tokenId,
      Date.now(),
    );
    return { ok: true, lease: row ? { runId: row.run_id, stepId: row.step_id, attempt: row.attempt } : null };
  }

  /** A lease whose attempt is over (reported, refused, lapsed): later calls with it find nothing. */
  async release(leaseId: string): Promise<void> {
    this.sql.exec("DELETE FROM lease WHERE hash = ?", await sha256Hex(leaseId));
  }

  /** Backlog signals for an operator or an autoscaler of external workers. */
  async backlog(): Promise<{ waiting: number; oldestAgeMs: number | null }> {
    const row = this.sql
      .exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM waiting")
      .one();
    return { waiting: row.n, oldestAgeMs: row.oldest === null ? null : Date.now() - row.oldest };
  }

  async createToken(pool: string): Promise<{ id: string; token: string }> {
    const id = newKeyId();
    const secret = newSecret();
    this.sql.exec(
      "INSERT INTO worker_token (id, hash, created_at) VALUES (?, ?, ?)",
      id,
      await sha256Hex(secret),
      Date.now(),
    );
    return { id, token: `fwk_${pool}_${id}_${secret}` };
  }

  private verifyToken(id: string, secretHash: string): boolean {
    const row = one<{ hash: string; revoked_at: number | null }>(
      this.sql,
      "SELECT hash, revoked_at FROM worker_token WHERE id = ?",
      id,
    );
    return !!row && row.revoked_at === null && timingSafeEqualHex(row.hash, secretHash);
  }

  async revokeToken(id: string): Promise<boolean> {
    return (
      this.sql.exec("UPDATE worker_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Date.now(), id)
        .rowsWritten > 0
    );
  }
}
