/**
 * A tenant's runs as the tenant sees them: the run index (listing), Idempotency-Keys, the
 * monthly quota, and admission — at most `maxConcurrentRuns` running, the rest waiting in
 * `queued` by priority then arrival, started as slots free.
 */
import { refuse, type Refusal } from "../../../schema/errors";
import { TERMINAL_RUN_STATUSES, type Priority, type RunStatus } from "../../../schema/vocabulary";
import { rollUp, type UsageGroup, type UsageGroupRow } from "../../analytics/usage";
import type { RunUsage } from "../../../schema/usage";
import type { RunOutcome, TenantSync } from "../../../schema/run";
import { aggregate, all } from "../sqlite";
import { type RunRequester, requesterMeta } from "./run-audit";
import type { RunSearchFields } from "../../../schema/run";
import type { RunFilter } from "../../../schema/search";
import { labelsJson, type RunPage, searchRuns, writeLabels } from "./search";

export const RUN_BOOK_MIGRATION = [
  `ALTER TABLE run_index ADD COLUMN priority INTEGER NOT NULL DEFAULT 1`,
  `ALTER TABLE run_index ADD COLUMN admitted INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE run_index ADD COLUMN started INTEGER NOT NULL DEFAULT 0`,
  `CREATE INDEX run_index_waiting ON run_index (admitted, priority, created_at)`,
  `CREATE TABLE quota_month (month TEXT PRIMARY KEY, runs INTEGER NOT NULL)`,
  `ALTER TABLE run_index ADD COLUMN usage TEXT`,
  `ALTER TABLE run_index ADD COLUMN outcome TEXT`,
];

const TERMINAL = [...TERMINAL_RUN_STATUSES].map((s) => `'${s}'`).join(",");
/**
 * The one spelling of "not finished" in this book's queries. SQLite uses the partial index below
 * only for queries that repeat its WHERE term word for word, so every query says LIVE; those that
 * sort also name the index (INDEXED BY), or the planner picks the waiting index for its order
 * and reads every run ever admitted.
 */
const LIVE = `status NOT IN (${TERMINAL})`;

/**
 * Admission counts the admitted runs that are not finished on every status change. Without this
 * index that count read every run the tenant ever had; with it, only the live ones.
 */
export const LIVE_RUNS_MIGRATION = [
  `CREATE INDEX run_index_live ON run_index (admitted, started, status) WHERE ${LIVE}`,
  // Set when the API opens a run here before its object exists; cleared by the run's first word.
  `ALTER TABLE run_index ADD COLUMN opened_at INTEGER`,
];

/** Set when a finished run's object archived it to R2 and emptied itself (issue 20). */
export const ARCHIVE_MIGRATION = [
  `ALTER TABLE run_index ADD COLUMN archived_at INTEGER`,
  `ALTER TABLE run_index ADD COLUMN archive_bytes INTEGER`,
];

/**
 * How long an opened run may stay unheard of before the tenant asks its object whether it
 * exists: one whose creation never happened (the request died between the two calls) would
 * otherwise hold a concurrency slot for ever.
 */
export const OPENED_CHECK_MS = 60_000;

/** A run the API is about to create: what the index needs before the run's object exists. */
export interface OpenedRun {
  runId: string;
  project: string;
  blueprint: string | null;
  priority: Priority;
  createdAt: number;
  /** Who asked, for the audit trail (./run-audit.ts); stored in the row written anyway. */
  requester?: RunRequester;
  /** What the run is searched by (its requester and labels). */
  search?: RunSearchFields;
}

/**
 * `run_index.admitted`: a queued run waits for a slot (WAITING), holds one (ADMITTED), or gave
 * its slot back while it waits for a concurrency key (KEYS_PENDING: neither counted nor admitted).
 */
const WAITING = 0;
const ADMITTED = 1;
const KEYS_PENDING = -1;

/** Lower runs first. */
export const PRIORITY_RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

export interface ListRunsFilter {
  filter: RunFilter;
  /** Opaque position from a previous page. */
  cursor?: { createdAt: number; runId: string };
  limit: number;
}

export type IdempotencyClaim = { ok: true; runId: string; replayed: boolean } | Refusal<"idempotency.conflict">;

interface IndexRow {
  run_id: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  admitted: number;
  created_at: number;
  updated_at: number;
  archived_at: number | null;
}

export class RunBook {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Follows a run's status (older updates, by event sequence, are ignored) and answers whether
   * this run may start now. Other runs admitted by a freed slot are returned for the caller to
   * start.
   */
  record(
    sync: TenantSync,
    admission: { open: boolean; limit: number },
    retention?: { unpublishedMs: number; archiveMs: number },
  ): { start: boolean; admitted: string[] } {
    // A run's final sync carries its usage and outcome; an older sync never overwrites a newer one.
    const usage = sync.usage ? JSON.stringify(sync.usage) : null;
    const outcome = sync.usage ? JSON.stringify(sync.outcome ?? null) : null;
    // ...and, in the same statement, its storage and its deadlines under the policy now (retention.ts).
    const final = sync.usage && retention;
    const written = all<{ status: string; admitted: number }>(
      this.sql,
      `INSERT INTO run_index (run_id, project, blueprint, status, version, priority, created_at, updated_at, usage, outcome,
         finished_at, state_bytes, artifact_bytes, unpublished_due, archive_ms, requested_by, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
       ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, version = excluded.version, updated_at = excluded.updated_at, opened_at = NULL,
         usage = COALESCE(excluded.usage, run_index.usage), outcome = COALESCE(excluded.outcome, run_index.outcome),
         state_bytes = COALESCE(excluded.state_bytes, run_index.state_bytes),
         artifact_bytes = COALESCE(excluded.artifact_bytes, run_index.artifact_bytes),
         unpublished_due = CASE WHEN run_index.finished_at IS NULL THEN excluded.unpublished_due ELSE run_index.unpublished_due END,
         archive_ms = COALESCE(run_index.archive_ms, excluded.archive_ms),
         finished_at = COALESCE(run_index.finished_at, excluded.finished_at)
       WHERE excluded.version > run_index.version
       RETURNING status, admitted`,
      sync.runId,
      sync.project,
      sync.blueprint,
      sync.status,
      sync.version,
      PRIORITY_RANK[sync.priority],
      sync.createdAt,
      sync.at,
      usage,
      outcome,
      final ? sync.at : null,
      sync.storage?.stateBytes ?? null,
      sync.storage?.artifactBytes ?? null,
      final ? sync.at + retention.unpublishedMs : null,
      final ? retention.archiveMs : null,
      // Set when the entry is inserted (a retry's), never updated: their indexes are written once.
      sync.search?.requestedBy ?? null,
      labelsJson(sync.search),
    )[0];
    if (sync.search?.tags || sync.search?.metadata) writeLabels(this.sql, sync.runId, sync.createdAt, sync.search);
    // A stale sync wrote nothing and returned nothing: read what the index holds.
    const row =
      written ?? all<IndexRow>(this.sql, "SELECT status, admitted FROM run_index WHERE run_id = ?", sync.runId)[0];
    if (row && sync.flow) row.admitted = this.keysSync(sync, written !== undefined, row.admitted);
    const admitted = admission.open ? this.admit(admission.limit) : [];
    // A queued, admitted run is told to start, again if need be: the answer may have been lost.
    const start = row?.status === "queued" && (row.admitted === 1 || admitted.includes(sync.runId));
    if (start) this.sql.exec("UPDATE run_index SET started = 1 WHERE run_id = ?", sync.runId);
    return { start, admitted: admitted.filter((id) => id !== sync.runId) };
  }

  /**
   * A run with concurrency keys gives its slot back while a key is busy ("waiting": not counted as
   * running, and not admitted again) and asks again once it holds them all ("ready": it waits for a
   * slot like any queued run). "waiting" is applied only when its sync is the newest (an old one
   * after "ready" would strand the run); "ready" follows a "waiting" only, so it may share its version.
   */
  private keysSync(sync: TenantSync, fresh: boolean, admitted: number): number {
    if (sync.flow === "waiting" && fresh && admitted === ADMITTED) {
      this.sql.exec(`UPDATE run_index SET admitted = ${KEYS_PENDING}, started = 0 WHERE run_id = ?`, sync.runId);
      return KEYS_PENDING;
    }
    if (sync.flow === "ready" && admitted === KEYS_PENDING) {
      this.sql.exec(`UPDATE run_index SET admitted = ${WAITING} WHERE run_id = ?`, sync.runId);
      return WAITING;
    }
    return admitted;
  }

  /**
   * Indexes a run before its object exists, and admits it at once if a slot is free: the run is
   * then created already running, with no status round trip before its first dispatch. Returns
   * whether it starts, and other waiting runs a free slot let in (for the alarm to start).
   */
  open(
    run: OpenedRun,
    admission: { open: boolean; limit: number },
    now: number,
  ): { start: boolean; admitted: string[] } {
    // A free slot and nobody waiting before it: the run is indexed already admitted and running,
    // in the one write that indexes it (admission would otherwise rewrite the row, and its indexes, at once).
    const direct = admission.open && this.freeAndNoneWaiting(admission.limit);
    const inserted = all(
      this.sql,
      `INSERT INTO run_index (run_id, project, blueprint, status, admitted, started, version, priority, created_at, updated_at, opened_at,
         requested_by, request_meta, labels) VALUES (?,?,?,?,?,?,0,?,?,?,?,?,?,?) ON CONFLICT (run_id) DO NOTHING RETURNING 1`,
      run.runId,
      run.project,
      run.blueprint,
      direct ? "running" : "queued",
      direct ? 1 : 0,
      direct ? 1 : 0,
      PRIORITY_RANK[run.priority],
      run.createdAt,
      now,
      now,
      run.search?.requestedBy ?? run.requester?.actor ?? null,
      run.requester ? requesterMeta(run.requester) : null,
      labelsJson(run.search),
    ).length;
    writeLabels(this.sql, run.runId, run.createdAt, run.search);
    if (direct && inserted) return { start: true, admitted: [] };
    // The opened run, if admitted, is created already running: one write says both.
    const admitted = admission.open ? this.admit(admission.limit, run.runId) : [];
    const start = admitted.includes(run.runId);
    return { start, admitted: admitted.filter((id) => id !== run.runId) };
  }

  /** A slot is free and no run waits for one (what admit() would find before admitting a new run first). */
  private freeAndNoneWaiting(limit: number): boolean {
    const running = aggregate<{ n: number }>(
      this.sql,
      `SELECT COUNT(*) AS n FROM run_index INDEXED BY run_index_live WHERE admitted = 1 AND ${LIVE}`,
    ).n;
    if (running >= limit) return false;
    return (
      all(this.sql, `SELECT 1 FROM run_index WHERE admitted = 0 AND status = 'queued' AND ${LIVE} LIMIT 1`).length === 0
    );
  }

  /** Opened runs not heard of since before `before`: their objects are to be asked. */
  unconfirmed(before: number): string[] {
    return all<{ run_id: string }>(
      this.sql,
      `SELECT run_id FROM run_index INDEXED BY run_index_live WHERE opened_at IS NOT NULL AND opened_at < ? AND ${LIVE} LIMIT 50`,
      before,
    ).map((r) => r.run_id);
  }

  /** When the next opened run is due for that question, if any. */
  nextUnconfirmed(): number | null {
    const at = all<{ at: number | null }>(
      this.sql,
      `SELECT MIN(opened_at) AS at FROM run_index INDEXED BY run_index_live WHERE opened_at IS NOT NULL AND ${LIVE}`,
    )[0]?.at;
    return at == null ? null : at + OPENED_CHECK_MS;
  }

  /** The run's object exists: stop asking (it tells this book its status from now on). */
  confirmed(runId: string): void {
    this.sql.exec("UPDATE run_index SET opened_at = NULL WHERE run_id = ?", runId);
  }

  /** The run's object was never created: the index entry, and its slot, go. */
  forget(runId: string): void {
    this.sql.exec("DELETE FROM run_index WHERE run_id = ? AND opened_at IS NOT NULL", runId);
  }

  /**
   * Admits waiting runs, by priority then arrival, while slots are free. Returns their ids.
   * `starting`, if admitted, is marked running and started as well (a run being opened).
   */
  admit(limit: number, starting?: string): string[] {
    const running = aggregate<{ n: number }>(
      this.sql,
      `SELECT COUNT(*) AS n FROM run_index INDEXED BY run_index_live WHERE admitted = 1 AND ${LIVE}`,
    ).n;
    if (running >= limit) return [];
    const next = all<{ run_id: string }>(
      this.sql,
      `SELECT run_id FROM run_index WHERE admitted = 0 AND status = 'queued' AND ${LIVE} ORDER BY priority, created_at, run_id LIMIT ?`,
      limit - running,
    ).map((r) => r.run_id);
    for (const id of next) {
      if (id === starting)
        this.sql.exec("UPDATE run_index SET admitted = 1, status = 'running', started = 1 WHERE run_id = ?", id);
      else this.sql.exec("UPDATE run_index SET admitted = 1 WHERE run_id = ?", id);
    }
    return next;
  }

  /** Admitted runs not yet told to start (the alarm tells them, in this order). */
  toStart(): string[] {
    return all<{ run_id: string }>(
      this.sql,
      `SELECT run_id FROM run_index INDEXED BY run_index_live WHERE admitted = 1 AND started = 0 AND status = 'queued' AND ${LIVE} ORDER BY priority, created_at, run_id LIMIT 100`,
    ).map((r) => r.run_id);
  }

  markStarted(runId: string): void {
    this.sql.exec("UPDATE run_index SET started = 1 WHERE run_id = ?", runId);
  }

  /** Admitted runs not yet finished (at most `limit`, oldest first). */
  active(limit: number): string[] {
    return all<{ run_id: string }>(
      this.sql,
      `SELECT run_id FROM run_index INDEXED BY run_index_live WHERE admitted = 1 AND ${LIVE} ORDER BY created_at LIMIT ?`,
      limit,
    ).map((r) => r.run_id);
  }

  /** Admitted, unfinished runs by project (what each project's running runs commit of its budget). */
  runningByProject(): Map<string, number> {
    return new Map(
      all<{ project: string; n: number }>(
        this.sql,
        `SELECT project, COUNT(*) AS n FROM run_index INDEXED BY run_index_live WHERE admitted = 1 AND ${LIVE} GROUP BY project`,
      ).map((r) => [r.project, r.n]),
    );
  }

  counts(): { running: number; waiting: number } {
    const r = all<{ running: number; waiting: number }>(
      this.sql,
      `SELECT SUM(CASE WHEN admitted = 1 THEN 1 ELSE 0 END) AS running, SUM(CASE WHEN admitted <> 1 AND status = 'queued' THEN 1 ELSE 0 END) AS waiting
       FROM run_index WHERE ${LIVE}`,
    )[0];
    return { running: r?.running ?? 0, waiting: r?.waiting ?? 0 };
  }

  /** Finished runs' recorded usage, rolled up by project, blueprint, pool or day, for runs created in [from, to). */
  usage(from: number, to: number, groupBy: UsageGroup): UsageGroupRow[] {
    const runs = all<{
      project: string;
      blueprint: string | null;
      status: string;
      created_at: number;
      usage: string;
    }>(
      this.sql,
      "SELECT project, blueprint, status, created_at, usage FROM run_index WHERE created_at >= ? AND created_at < ? AND usage IS NOT NULL",
      from,
      to,
    ).map((r) => ({
      project: r.project,
      blueprint: r.blueprint,
      status: r.status,
      createdAt: r.created_at,
      usage: JSON.parse(r.usage) as Partial<RunUsage>,
    }));
    return rollUp(runs, groupBy);
  }

  /** Finished runs created in [from, to), newest first (bounded), for SLA metrics. */
  finished(
    from: number,
    to: number,
    limit = 10_000,
  ): { status: RunStatus; blueprint: string | null; usage: RunUsage; outcome: RunOutcome }[] {
    return all<{ status: RunStatus; blueprint: string | null; usage: string; outcome: string }>(
      this.sql,
      "SELECT status, blueprint, usage, outcome FROM run_index WHERE created_at >= ? AND created_at < ? AND usage IS NOT NULL ORDER BY created_at DESC LIMIT ?",
      from,
      to,
      limit,
    ).map((r) => ({
      status: r.status,
      blueprint: r.blueprint,
      usage: JSON.parse(r.usage) as RunUsage,
      outcome: JSON.parse(r.outcome) as RunOutcome,
    }));
  }

  /** Counts a new run against this month's quota; false when the month is spent. */
  reserve(now: number, monthlyRuns: number): boolean {
    const month = new Date(now).toISOString().slice(0, 7);
    if (monthlyRuns <= 0) return false;
    // One statement: counts the run unless the month is spent (then nothing is written or returned).
    return (
      all<{ runs: number }>(
        this.sql,
        "INSERT INTO quota_month (month, runs) VALUES (?, 1) ON CONFLICT (month) DO UPDATE SET runs = runs + 1 WHERE runs < ? RETURNING runs",
        month,
        monthlyRuns,
      ).length > 0
    );
  }

  list(q: ListRunsFilter): RunPage {
    return searchRuns(this.sql, q.filter, q.limit, q.cursor);
  }

  /** A finished run was archived: its summary stays, marked, until the archive expires. False: no such run. */
  archived(runId: string, at: number, bytes: number, defaultArchiveMs: number): boolean {
    return (
      all(
        this.sql,
        // The archive's deadline: the period fixed at the run's finish (retention.ts), or the tenant's now.
        `UPDATE run_index SET archived_at = ?, archive_bytes = ?, expires_at = ? + COALESCE(archive_ms, ?)
         WHERE run_id = ? AND archived_at IS NULL RETURNING 1`,
        at,
        bytes,
        at,
        defaultArchiveMs,
        runId,
      ).length > 0 || all(this.sql, "SELECT 1 FROM run_index WHERE run_id = ?", runId).length > 0
    );
  }

  /** Forgets a claim whose run was never created (refused by the quota), so a retry is fresh. */
  release(key: string, runId: string): void {
    this.sql.exec("DELETE FROM idempotency WHERE key = ? AND run_id = ?", key, runId);
  }

  /**
   * Binds an Idempotency-Key to a run id. The same key with the same body hash returns the
   * first run's id; with another body it is a conflict.
   */
  claim(key: string, bodyHash: string, candidateRunId: string, now: number): IdempotencyClaim {
    const existing = all<{ body_hash: string; run_id: string }>(
      this.sql,
      "SELECT body_hash, run_id FROM idempotency WHERE key = ?",
      key,
    )[0];
    if (existing) {
      if (existing.body_hash !== bodyHash) {
        return refuse("idempotency.conflict", "this Idempotency-Key was used with a different body");
      }
      return { ok: true, runId: existing.run_id, replayed: true };
    }
    this.sql.exec(
      "INSERT INTO idempotency (key, body_hash, run_id, created_at) VALUES (?, ?, ?, ?)",
      key,
      bodyHash,
      candidateRunId,
      now,
    );
    return { ok: true, runId: candidateRunId, replayed: false };
  }
}
