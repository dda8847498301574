/**
 * A tenant's purge, as its own object runs it: requested (the tenant is suspended in the same
 * transaction), then worked through by the alarm in bounded passes — runs (cancelled if active,
 * then each purged by its own object), every R2 key under `tenants/{id}/`, and last the object's
 * own storage. Progress is a row here, so a pass cut short by a kill is done again by the next
 * alarm: every step is idempotent (a purged run answers null, a deleted key is gone from the
 * listing). The audit record that outlives the object is the tenant directory's (PurgeAudit).
 */
import type { PurgeCounts, PurgeProgress } from "../../../schema/tenants";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { deletePrefix, purgeRunObjects } from "../../artifacts/purge";
import type { Env } from "../../env";
import { runStub } from "../run/stub";
import { all, json, one } from "../sqlite";
import { deleteIndexed } from "./search";

const TERMINAL = [...TERMINAL_RUN_STATUSES].map((s) => `'${s}'`).join(",");

export const PURGE_MIGRATION = [
  `CREATE TABLE tenant_purge (
    id INTEGER PRIMARY KEY CHECK (id = 1), requested_at INTEGER NOT NULL, reason TEXT NOT NULL,
    requested_by TEXT NOT NULL, phase TEXT NOT NULL, counts TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
];

/** Runs handled per alarm pass (each is one or two calls to its object). */
export const PURGE_RUN_BATCH = 20;
/** R2 listing pages (1,000 keys each) deleted per alarm pass. */
export const PURGE_KEY_PAGES = 5;

/** The phases, in order: `runs` (index rows go as their runs are purged), `objects` (R2), `storage`. */
export type PurgePhase = PurgeProgress["phase"];

interface PurgeRow {
  requested_at: number;
  reason: string;
  requested_by: string;
  phase: PurgePhase;
  counts: string;
  updated_at: number;
}

const ZERO: PurgeCounts = { runs: 0, activeRunsCancelled: 0, r2Keys: 0, webhooks: 0, keys: 0 };

export class PurgeBook {
  /** Read once per object lifetime (every run sync asks); changed only through `begin`. */
  private under: boolean | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Whether a purge is under way: the tenant then takes no new runs, syncs, events or changes. */
  get purging(): boolean {
    this.under ??= all(this.sql, "SELECT 1 FROM tenant_purge WHERE id = 1").length > 0;
    return this.under;
  }

  /** The purge under way, if any. */
  progress(): PurgeProgress | null {
    const r = one<PurgeRow>(this.sql, "SELECT * FROM tenant_purge WHERE id = 1");
    return r
      ? {
          phase: r.phase,
          requestedAt: new Date(r.requested_at).toISOString(),
          reason: r.reason,
          requestedBy: r.requested_by,
          counts: { ...ZERO, ...json.read<PurgeCounts>(r.counts) },
          updatedAt: new Date(r.updated_at).toISOString(),
        }
      : null;
  }

  /** Records the request; a second request while one is under way changes nothing. */
  begin(reason: string, requestedBy: string, now: number): void {
    this.sql.exec(
      `INSERT INTO tenant_purge (id, requested_at, reason, requested_by, phase, counts, updated_at)
       VALUES (1, ?, ?, ?, 'runs', ?, ?) ON CONFLICT (id) DO NOTHING`,
      now,
      reason,
      requestedBy,
      json.write(ZERO),
      now,
    );
    this.under = true;
  }

  /** Adds to the counts and moves to `phase`. */
  advance(phase: PurgePhase, add: Partial<PurgeCounts>, now: number): void {
    const current = this.progress()?.counts ?? ZERO;
    const counts = { ...current };
    for (const [k, v] of Object.entries(add) as [keyof PurgeCounts, number][]) counts[k] += v;
    this.sql.exec(
      "UPDATE tenant_purge SET phase = ?, counts = ?, updated_at = ? WHERE id = 1",
      phase,
      json.write(counts),
      now,
    );
  }

  /** The next runs to purge: any in the index, active ones included (they are cancelled first). */
  runs(limit: number): { run_id: string; live: boolean }[] {
    return all<{ run_id: string; live: number }>(
      this.sql,
      `SELECT run_id, status NOT IN (${TERMINAL}) AS live FROM run_index ORDER BY created_at LIMIT ?`,
      limit,
    ).map((r) => ({ run_id: r.run_id, live: r.live === 1 }));
  }

  forgetRun(runId: string): void {
    deleteIndexed(this.sql, runId);
  }

  /** What the last phase deletes with the object's storage, counted for the audit. */
  remaining(): { webhooks: number; keys: number } {
    const n = (table: string) => all<{ n: number }>(this.sql, `SELECT COUNT(*) AS n FROM ${table}`)[0]?.n ?? 0;
    return { webhooks: n("webhook_endpoint"), keys: n("api_key") };
  }
}

/**
 * A sharded tenant's other shard objects (./shards.ts), as home's purge drives them: a bounded
 * pass over the runs they index, and, last, their storage. Absent for a one-shard tenant.
 */
export interface OtherShards {
  /** One bounded pass over the shards' runs: what it purged, and whether runs remain there. */
  purgeRuns(): Promise<{ runs: number; activeRunsCancelled: number; left: boolean }>;
  /** Deletes every shard's storage (their R2 keys went with the tenant's prefix). */
  wipe(): Promise<void>;
}

/** What a pass over some runs did; the caller counts it. */
export interface RunsPurged {
  runs: number;
  activeRunsCancelled: number;
  /** Runs still finishing (a cancel, or last events), tried again next pass. */
  waiting: number;
}

/**
 * Purges a batch of the runs this object indexes: an active one is cancelled and looked at again
 * next pass; a finished one is purged by its object (null: an archived or never-created run's
 * object is empty, and its R2 keys go by prefix), then its index row goes (`forgot`, which counts it).
 */
export async function purgeRunBatch(
  batch: { run_id: string; live: boolean }[],
  env: Env,
  tenantId: string,
  cancelled: () => void,
  forgot: (runId: string) => void,
): Promise<RunsPurged> {
  const done: RunsPurged = { runs: 0, activeRunsCancelled: 0, waiting: 0 };
  for (const { run_id, live } of batch) {
    const stub = runStub(env, run_id);
    if (live && (await stub.control(tenantId, "cancel"))?.ok) {
      cancelled();
      done.activeRunsCancelled++;
    }
    const result = await stub.purge(tenantId);
    // Still finishing (its cancel, or its last events): the next pass tries again.
    if (result && !result.ok) {
      done.waiting++;
      continue;
    }
    if (!result) await purgeRunObjects(env.ARTIFACTS, tenantId, run_id);
    forgot(run_id);
    done.runs++;
  }
  return done;
}

/** What a pass of the purge left: `done` once the object's storage may be deleted. */
export type PurgePass = { done: false; retryInMs: number } | { done: true; counts: PurgeCounts };

/** How soon a pass waits for a cancelled run to finish (its events handed over) before trying again. */
const ACTIVE_RETRY_MS = 1_000;

/**
 * One bounded pass of a purge, in the phase the book says. Runs first: each active one is
 * cancelled and looked at again next pass; a finished one is purged by its object (null: an
 * archived or never-created run's object is empty, and its R2 keys go by prefix), then its index
 * row goes. Then the tenant's R2 prefix, a page at a time. Then the counts for the audit.
 */
export async function purgePass(
  book: PurgeBook,
  env: Env,
  tenantId: string,
  now: () => number,
  shards?: OtherShards,
): Promise<PurgePass> {
  const progress = book.progress();
  if (!progress) return { done: false, retryInMs: ACTIVE_RETRY_MS };
  if (progress.phase === "runs") {
    const batch = book.runs(PURGE_RUN_BATCH);
    if (batch.length === 0) {
      // Home's runs are gone; a sharded tenant's other shards purge theirs, a batch each a pass.
      if (shards) {
        const there = await shards.purgeRuns();
        book.advance("runs", { runs: there.runs, activeRunsCancelled: there.activeRunsCancelled }, now());
        if (there.left) return { done: false, retryInMs: there.runs === 0 ? ACTIVE_RETRY_MS : 0 };
      }
      book.advance("objects", {}, now());
      return { done: false, retryInMs: 0 };
    }
    const purged = await purgeRunBatch(
      batch,
      env,
      tenantId,
      () => book.advance("runs", { activeRunsCancelled: 1 }, now()),
      // One synchronous block, so one commit: a kill never forgets a run it did not count.
      (runId) => {
        book.forgetRun(runId);
        book.advance("runs", { runs: 1 }, now());
      },
    );
    return { done: false, retryInMs: purged.runs === 0 ? ACTIVE_RETRY_MS : 0 };
  }
  if (progress.phase === "objects") {
    const { deleted, more } = await deletePrefix(env.ARTIFACTS, `tenants/${tenantId}/`, PURGE_KEY_PAGES);
    book.advance(more ? "objects" : "storage", { r2Keys: deleted }, now());
    return { done: false, retryInMs: 0 };
  }
  // The tenant's secrets (their own object, src/control/secrets/): gone with the tenant.
  await env.SECRETS.getByName(tenantId).forgetAll();
  await shards?.wipe();
  const counts = { ...progress.counts, ...book.remaining() };
  return { done: true, counts };
}
