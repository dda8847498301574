/**
 * The Pool Durable Object, one per external worker pool: where steps for workers outside
 * Cloudflare (long CPU, GPUs, private networks) wait to be leased over HTTP, the hashes of the
 * pool's worker tokens, and the leases it issued. A lease id is an unguessable secret bound to the
 * token that took it, so a worker can only ever touch the attempts this pool handed to it; the
 * run's own object stays the authority on whether that attempt is still current (fencing,
 * timeouts, retries), so a lease taken and never used simply lapses there.
 *
 * Two kinds of pool share the class: the operator's `external` pool (named `external`, tokens
 * `fwk_…` issued through the admin API) and a tenant's own pools (named `<tenant>:<pool>`, so no
 * object serves two tenants; tokens `fwt_<tenant>_<pool>_…` issued by the tenant), whose steps
 * are routed by capability (./routing.ts) and noted when no live worker can take them.
 */
import { DurableObject } from "cloudflare:workers";
import type { StepMessage } from "../../../schema/messages";
import type { Env } from "../../env";
import { newKeyId, newSecret, sha256Hex, timingSafeEqualHex } from "../../lib/crypto";
import { LIMITS } from "../../../schema/api";
import { LEASE_ID } from "../../../schema/ids";
import { all, migrate, one, type Migration } from "../sqlite";
import { Waiters } from "../waiters";
import { Alarm } from "../alarms";
import { runStub } from "../run/stub";
import { logError } from "../../lib/log";
import type { Capabilities, TokenView, WorkerView } from "../../../schema/workers";
import {
  countOutcome,
  findUnroutable,
  listWorkers,
  nextFor,
  nextUnroutableCheck,
  type Route,
  sawWorker,
} from "./routing";
import { claimWindowMs, markClaimed, nextClaimDeadline, releaseUnclaimed } from "./claims";

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
  // v3 (issue 27): capability routing (job type, required labels, run priority), the pool's
  // workers, which worker holds a lease, and a tenant pool's own settings.
  [
    `ALTER TABLE waiting ADD COLUMN kind TEXT`,
    `ALTER TABLE waiting ADD COLUMN requires TEXT`,
    `ALTER TABLE waiting ADD COLUMN priority INTEGER NOT NULL DEFAULT 1`,
    `ALTER TABLE waiting ADD COLUMN unroutable_noted INTEGER NOT NULL DEFAULT 0`,
    `CREATE INDEX waiting_route ON waiting (priority, enqueued_at)`,
    `ALTER TABLE lease ADD COLUMN worker_id TEXT`,
    `CREATE TABLE worker (
      id TEXT PRIMARY KEY, token_id TEXT NOT NULL, labels TEXT NOT NULL, kinds TEXT, last_seen INTEGER NOT NULL,
      completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0)`,
    `CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  ],
  // v4: a handed lease's claim deadline (./claims.ts); NULL once its worker used it.
  [`ALTER TABLE lease ADD COLUMN claim_by INTEGER`],
];

/** A tenant pool's settings (absent for the operator's `external` pool). */
export interface TenantPoolSettings {
  tenantId: string;
  pool: string;
  unroutableAfterMs: number;
}

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

  /** Makes this object a tenant's pool (idempotent; the settings are replaced). */
  async configure(settings: TenantPoolSettings): Promise<void> {
    this.sql.exec(
      "INSERT INTO setting (key, value) VALUES ('tenant', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(settings),
    );
  }

  private settings(): TenantPoolSettings | null {
    const row = one<{ value: string }>(this.sql, "SELECT value FROM setting WHERE key = 'tenant'");
    return row ? (JSON.parse(row.value) as TenantPoolSettings) : null;
  }

  /**
   * Steps dispatched to this pool (idempotent: a re-sent dispatch is stored once), each with its
   * route (job type, required labels, priority) when the run's outbox knows it.
   */
  async offer(messages: StepMessage[], routes?: (Route | null)[]): Promise<void> {
    const now = Date.now();
    messages.forEach((m, i) => {
      const route = routes?.[i] ?? null;
      const requires = route && Object.keys(route.requires).length > 0 ? JSON.stringify(route.requires) : null;
      // A step offered again (its queued lease lapsed while nobody could take it) keeps its place in
      // line and its unroutable note: its earlier attempt's row, stale now, goes.
      const earlier = one<{ at: number; noted: number }>(
        this.sql,
        `DELETE FROM waiting WHERE run_id = ? AND step_id = ? AND attempt < ?
         RETURNING enqueued_at AS at, unroutable_noted AS noted`,
        m.runId,
        m.stepId,
        m.attempt,
      );
      this.sql.exec(
        `INSERT INTO waiting (run_id, step_id, attempt, body, enqueued_at, kind, requires, priority, unroutable_noted)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        m.runId,
        m.stepId,
        m.attempt,
        JSON.stringify(m),
        earlier?.at ?? now,
        route?.kind ?? m.type,
        requires,
        route?.priority ?? 1,
        earlier?.noted ?? 0,
      );
    });
    this.waiters.wakeAll();
    await this.scheduleCheck(now);
  }

  /**
   * The alarm's next errand: an unclaimed lease's deadline (any pool), or a tenant pool's next look
   * for unroutable steps (the operator's pool has none).
   */
  private nextWake(now: number): number | null {
    const settings = this.settings();
    const unroutable = settings ? nextUnroutableCheck(this.sql, settings.unroutableAfterMs, now) : null;
    const claim = nextClaimDeadline(this.sql);
    if (unroutable === null) return claim;
    return claim === null ? unroutable : Math.min(unroutable, claim);
  }

  private async scheduleCheck(now: number): Promise<void> {
    const next = this.nextWake(now);
    const at = this.alarmClock.dueAt;
    if (next !== null && (at === null || next < at || at <= now)) await this.alarmClock.sync(next);
  }

  /**
   * Gives back every handed lease nobody claimed in time (./claims.ts), notes each step no live
   * worker could take for the tenant's bound on its run (once), then sets the next errand.
   */
  override async alarm(): Promise<void> {
    this.alarmClock.fired();
    await releaseUnclaimed(this.sql, this.env, Date.now());
    const settings = this.settings();
    if (settings) await this.noteUnroutable(settings, Date.now());
    await this.alarmClock.sync(this.nextWake(Date.now()));
  }

  private async noteUnroutable(settings: TenantPoolSettings, now: number): Promise<void> {
    for (const u of findUnroutable(this.sql, settings.unroutableAfterMs, now)) {
      try {
        await runStub(this.env, u.runId).noteUnroutable(u.stepId, u.attempt, {
          pool: settings.pool,
          kind: u.kind,
          requires: u.requires,
          waitedMs: u.waitedMs,
        });
      } catch (err) {
        // Noted at most once: a run that cannot be told now (evicted mid-call) is not told twice later.
        logError("pool.unroutable_note_failed", { runId: u.runId, stepId: u.stepId, error: String(err) });
      }
    }
  }

  /**
   * The oldest waiting step, removed, with a new lease on it for `tokenId`; waits up to `waitMs`
   * for one to arrive (long poll).
   */
  async take(
    tokenId: string,
    waitMs: number,
    capabilities?: Capabilities,
  ): Promise<{ message: StepMessage; leaseId: string } | null> {
    const deadline = Date.now() + waitMs;
    const caps: Capabilities = capabilities ?? { kinds: null, labels: {}, workerId: tokenId };
    sawWorker(this.sql, tokenId, caps, Date.now());
    for (;;) {
      const next = nextFor(this.sql, caps);
      if (next) this.sql.exec("DELETE FROM waiting WHERE rowid = ?", next.rowid);
      const row = next ? { body: next.body } : null;
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
          `INSERT INTO lease (hash, token_id, run_id, step_id, attempt, expires_at, worker_id, claim_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          await sha256Hex(leaseId),
          tokenId,
          message.runId,
          message.stepId,
          message.attempt,
          now + LEASE_ROW_TTL_MS,
          caps.workerId,
          now + claimWindowMs(this.env),
        );
        await this.scheduleCheck(now);
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
    const hash = await sha256Hex(leaseId);
    const row = one<{ run_id: string; step_id: string; attempt: number }>(
      this.sql,
      "SELECT run_id, step_id, attempt FROM lease WHERE hash = ? AND token_id = ? AND expires_at > ?",
      hash,
      tokenId,
      Date.now(),
    );
    if (row) markClaimed(this.sql, hash); // its worker heard of it: no claim deadline any more
    return { ok: true, lease: row ? { runId: row.run_id, stepId: row.step_id, attempt: row.attempt } : null };
  }

  /**
   * A lease whose attempt is over (reported, refused, lapsed): later calls with it find nothing.
   * `outcome`: what its worker reported, counted on the worker's book.
   */
  async release(leaseId: string, outcome?: "succeeded" | "failed"): Promise<void> {
    const row = one<{ worker_id: string | null }>(
      this.sql,
      "DELETE FROM lease WHERE hash = ? RETURNING worker_id",
      await sha256Hex(leaseId),
    );
    if (row && outcome) countOutcome(this.sql, row.worker_id, outcome);
  }

  /** The pool's workers (GET /v1/pools/{pool}/workers). */
  async workers(): Promise<WorkerView[]> {
    return listWorkers(this.sql, Date.now());
  }

  /** Backlog signals for an operator or an autoscaler of external workers. */
  async backlog(): Promise<{ waiting: number; oldestAgeMs: number | null }> {
    const row = this.sql
      .exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM waiting")
      .one();
    return { waiting: row.n, oldestAgeMs: row.oldest === null ? null : Date.now() - row.oldest };
  }

  /** A new worker token, shown once: `fwt_<tenant>_<pool>_…` for a tenant pool, `fwk_<pool>_…` for the operator's. */
  async createToken(pool: string): Promise<{ id: string; token: string }> {
    const settings = this.settings();
    const id = newKeyId();
    const secret = newSecret();
    this.sql.exec(
      "INSERT INTO worker_token (id, hash, created_at) VALUES (?, ?, ?)",
      id,
      await sha256Hex(secret),
      Date.now(),
    );
    const token = settings
      ? `fwt_${settings.tenantId}_${settings.pool}_${id}_${secret}`
      : `fwk_${pool}_${id}_${secret}`;
    return { id, token };
  }

  async listTokens(): Promise<TokenView[]> {
    return all<{ id: string; created_at: number; revoked_at: number | null }>(
      this.sql,
      "SELECT id, created_at, revoked_at FROM worker_token ORDER BY created_at DESC LIMIT 200",
    ).map((t) => ({
      id: t.id,
      createdAt: new Date(t.created_at).toISOString(),
      revokedAt: t.revoked_at === null ? null : new Date(t.revoked_at).toISOString(),
    }));
  }

  /** How many live tokens the pool has (a tenant pool's are bounded). */
  async liveTokens(): Promise<number> {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM worker_token WHERE revoked_at IS NULL").one().n;
  }

  /**
   * The tenant deleted the pool: its tokens stop working, its waiting steps and workers go, and it
   * is no tenant's pool until configured again (the runs of steps that waited here see their
   * queued leases lapse and retry as usual).
   */
  async close(): Promise<void> {
    this.sql.exec("UPDATE worker_token SET revoked_at = ? WHERE revoked_at IS NULL", Date.now());
    this.sql.exec("DELETE FROM waiting");
    this.sql.exec("DELETE FROM worker");
    this.sql.exec("DELETE FROM lease");
    this.sql.exec("DELETE FROM setting");
    await this.alarmClock.sync(null);
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
