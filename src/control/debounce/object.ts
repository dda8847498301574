/**
 * A debounce key's pending run (issue 28, docs/flow-control.md#debounce): one Durable Object per
 * tenant, project and resolved key, so every request of the key learns, one at a time, which run
 * it joins. The pending run's id is written before the run exists: a request that dies before
 * creating it leaves the id to the next request, which creates it under the same id (the tenant's
 * opening is idempotent on a key derived from it), so a window never opens two runs. The run
 * itself decides when the window closes (its start, in its own object) and then settles it here.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../../env";
import { newRunId } from "../../lib/crypto";
import { migrate, one, type Migration } from "../sqlite";
import type { DebounceClaim, DebounceStub } from "./stub";

export const DEBOUNCE_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE pending (id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, opened_at INTEGER NOT NULL)`,
    // Idempotency-Keys of the key's requests: a replay answers the run its first request joined.
    `CREATE TABLE idem (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, body_hash TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID`,
  ],
];

/** How long a request's Idempotency-Key is remembered (the tenant's own keys: a day as well). */
const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;

export class DebounceObject extends DurableObject<Env> implements DebounceStub {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, DEBOUNCE_MIGRATIONS);
    });
  }

  async claim(idempotency?: { key: string; bodyHash: string }): Promise<DebounceClaim> {
    const now = Date.now();
    return this.ctx.storage.transactionSync((): DebounceClaim => {
      this.sql.exec("DELETE FROM idem WHERE at < ?", now - IDEMPOTENCY_MS);
      if (idempotency) {
        const seen = one<{ run_id: string; body_hash: string }>(
          this.sql,
          "SELECT run_id, body_hash FROM idem WHERE key = ?",
          idempotency.key,
        );
        if (seen && seen.body_hash !== idempotency.bodyHash) return { conflict: true };
        if (seen) return { runId: seen.run_id, fresh: false, replayed: true };
      }
      const pending = one<{ run_id: string }>(this.sql, "SELECT run_id FROM pending WHERE id = 1");
      const runId = pending?.run_id ?? newRunId();
      if (!pending) this.sql.exec("INSERT INTO pending (id, run_id, opened_at) VALUES (1, ?, ?)", runId, now);
      if (idempotency)
        this.sql.exec(
          "INSERT INTO idem (key, run_id, body_hash, at) VALUES (?,?,?,?)",
          idempotency.key,
          runId,
          idempotency.bodyHash,
          now,
        );
      return { runId, fresh: !pending, replayed: false };
    });
  }

  async settle(runId: string): Promise<void> {
    this.sql.exec("DELETE FROM pending WHERE run_id = ?", runId);
  }
}
