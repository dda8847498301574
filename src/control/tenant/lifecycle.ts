/**
 * Expiry, run by the tenant's alarm: a bounded batch per pass of (1) archived runs whose archive
 * period ended — their R2 keys and their index row go; (2) finished runs whose unpublished
 * artifacts' period ended — the keys under the run's prefix that no version holds go, the archive
 * stays; (3) superseded, unpinned versions whose period ended — their bytes go and the row stays,
 * marked expired (version numbers are never reused, lineage stays readable).
 *
 * Every deadline is a row's column, cleared (or the row deleted) only once its R2 work is done, so
 * a pass cut short by a crash is simply done again: deleting an R2 key twice is harmless. What
 * something still needs is never deleted: a key a retained (unexpired) version holds, the run's
 * archive before the archive's own deadline, and anything of a run with a webhook delivery still
 * pending or with a retry still running (which carries its succeeded steps' artifacts by key): the
 * deadline moves on by DEFER_MS and is looked at again. Runs still running have no deadline at
 * all: their final sync sets it.
 */
import { archiveKey, runPrefix } from "../../artifacts/keys";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { all } from "../sqlite";
import { ArchiveBackfill, type ArchiveNudge } from "./archive-backfill";
import { deleteIndexed } from "./search";

const TERMINAL = [...TERMINAL_RUN_STATUSES].map((s) => `'${s}'`).join(",");

/** Rows handled per kind per alarm pass: each may cost an R2 listing and a delete. */
export const SWEEP_BATCH = 20;
/** Listing pages per run per pass; a run with more keys keeps its deadline and is finished next pass. */
const PAGES_PER_RUN = 5;
/** How long a deadline waits, and is looked at again, while a webhook delivery of its run is pending. */
export const DEFER_MS = 60_000;

export interface SweepCounts {
  runsExpired: number;
  /** Runs finished before retention that were given their archive timer (archive-backfill.ts). */
  runsBackfilled: number;
  unpublishedSwept: number;
  versionsExpired: number;
  keysDeleted: number;
}

/** The end of a key range: every key that starts with `prefix` (which ends in '/') sorts below it. */
const prefixEnd = (prefix: string) => `${prefix.slice(0, -1)}0`;

/**
 * What a run's deadlines must respect that lives in the tenant's own object (home): the R2 keys
 * retained versions hold under the run's prefix, and whether a webhook delivery of the run is
 * pending. Home answers from its tables (`homeChecks`); a shard (./shards.ts) asks home.
 */
export type HomeChecks = (runIds: string[]) => Promise<Record<string, RunChecks>>;
export interface RunChecks {
  held: string[];
  /** A webhook delivery of the run is pending, or (on a shard) its final sync has not reached home yet: its deadlines wait. */
  deliveryPending: boolean;
}

/** Home's answer to `HomeChecks` for a sweep's batch of runs (one call from a shard), from its own tables. */
export function homeChecks(sql: SqlStorage, tenantId: string, runIds: string[]): Record<string, RunChecks> {
  const checks: Record<string, RunChecks> = {};
  for (const runId of runIds) {
    const prefix = runPrefix(tenantId, runId);
    checks[runId] = {
      held: all<{ r2_key: string }>(
        sql,
        "SELECT r2_key FROM artifact_version WHERE r2_key >= ? AND r2_key < ? AND expired_at IS NULL",
        prefix,
        prefixEnd(prefix),
      ).map((r) => r.r2_key),
      deliveryPending:
        all(sql, "SELECT 1 FROM webhook_delivery WHERE run_id = ? AND status = 'pending' LIMIT 1", runId).length > 0,
    };
  }
  return checks;
}

const NONE: RunChecks = { held: [], deliveryPending: false };

export class Lifecycle {
  private readonly backfill: ArchiveBackfill;

  constructor(
    private readonly sql: SqlStorage,
    private readonly bucket: R2Bucket,
    private readonly tenantId: string,
    /** The run that retries `runId`, as its object says (null: none, or its object is archived or gone). */
    private readonly retriedAs: (runId: string) => Promise<string | null>,
    private readonly home: HomeChecks,
    nudge: ArchiveNudge,
  ) {
    this.backfill = new ArchiveBackfill(sql, nudge);
  }

  /** When the archive backfill's next page is due (null: no backfill): a tenant object asks once at start. */
  backfillDue(): number | null {
    return this.backfill.nextDue();
  }

  /** The earliest deadline of any kind; null when nothing is due ever. Three indexed MINs and the backfill's row. */
  nextDue(): number | null {
    const at = all<{ at: number | null }>(
      this.sql,
      `SELECT MIN(at) AS at FROM (
         SELECT MIN(expires_at) AS at FROM run_index INDEXED BY run_index_expires WHERE expires_at IS NOT NULL
         UNION ALL SELECT MIN(unpublished_due) FROM run_index INDEXED BY run_index_unpublished_due WHERE unpublished_due IS NOT NULL
         UNION ALL SELECT MIN(expires_at) FROM artifact_version INDEXED BY artifact_version_expires WHERE expires_at IS NOT NULL
         UNION ALL SELECT due_at FROM archive_backfill)`,
    )[0]?.at;
    return at ?? null;
  }

  /** Bytes held now: hot runs' state (from their final syncs), archives, and artifacts kept. */
  held(): { runStateBytes: number; archiveBytes: number; artifactBytes: number } {
    const r = all<{ state: number | null; archives: number | null; artifacts: number | null }>(
      this.sql,
      `SELECT SUM(CASE WHEN archived_at IS NULL THEN state_bytes END) AS state, SUM(archive_bytes) AS archives,
         SUM(artifact_bytes) AS artifacts FROM run_index`,
    )[0];
    return { runStateBytes: r?.state ?? 0, archiveBytes: r?.archives ?? 0, artifactBytes: r?.artifacts ?? 0 };
  }

  /** One bounded pass; `more` when due rows were left for the next pass. */
  async sweep(now: number): Promise<SweepCounts & { more: boolean }> {
    const counts: SweepCounts = {
      runsExpired: 0,
      runsBackfilled: 0,
      unpublishedSwept: 0,
      versionsExpired: 0,
      keysDeleted: 0,
    };
    const backfill = await this.backfill.page(now);
    counts.runsBackfilled = backfill.nudged;
    let more = backfill.more;

    if (await this.expireRuns(now, counts)) more = true;
    if (await this.sweepUnpublished(now, counts)) more = true;
    if (await this.expireVersions(now, counts)) more = true;
    return { ...counts, more };
  }

  /** Runs past their retention: deleted with what they alone hold; `true` when some were left. */
  private async expireRuns(now: number, counts: SweepCounts): Promise<boolean> {
    const expired = await this.dueRuns("expires_at", "run_index_expires", now);
    let more = expired.more;
    for (const [run_id, checks] of expired.runs) {
      if (checks.deliveryPending) {
        this.sql.exec("UPDATE run_index SET expires_at = ? WHERE run_id = ?", now + DEFER_MS, run_id);
        continue;
      }
      const { deleted, done } = await this.deleteUnheld(run_id, false, checks.held);
      counts.keysDeleted += deleted;
      if (!done) {
        more = true;
        continue;
      }
      deleteIndexed(this.sql, run_id);
      counts.runsExpired++;
    }
    return more;
  }

  /** Runs whose unpublished artifacts are due: those deleted, the published kept; `true` when some were left. */
  private async sweepUnpublished(now: number, counts: SweepCounts): Promise<boolean> {
    const unpublished = await this.dueRuns("unpublished_due", "run_index_unpublished_due", now);
    let more = unpublished.more;
    for (const [run_id, checks] of unpublished.runs) {
      // A retry still running carries this run's succeeded steps' artifacts by key: they wait for it.
      if (checks.deliveryPending || (await this.retryRunning(run_id))) {
        this.sql.exec("UPDATE run_index SET unpublished_due = ? WHERE run_id = ?", now + DEFER_MS, run_id);
        continue;
      }
      const { deleted, done, keptBytes } = await this.deleteUnheld(run_id, true, checks.held);
      counts.keysDeleted += deleted;
      if (!done) {
        more = true;
        continue;
      }
      this.sql.exec(
        "UPDATE run_index SET unpublished_due = NULL, artifact_bytes = ? WHERE run_id = ?",
        keptBytes,
        run_id,
      );
      counts.unpublishedSwept++;
    }
    return more;
  }

  /** Project artifact versions past their retention; `true` when due versions were left for the next pass. */
  private async expireVersions(now: number, counts: SweepCounts): Promise<boolean> {
    const versions = all<{ project: string; name: string; version: number; r2_key: string; size: number }>(
      this.sql,
      `SELECT project, name, version, r2_key, size FROM artifact_version INDEXED BY artifact_version_expires
       WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
      now,
      SWEEP_BATCH + 1,
    );
    const more = versions.length > SWEEP_BATCH;
    const owners = [...new Set(versions.slice(0, SWEEP_BATCH).flatMap((v) => runOfKey(v.r2_key) ?? []))];
    const ownerChecks = owners.length > 0 ? await this.home(owners) : {};
    for (const v of versions.slice(0, SWEEP_BATCH)) {
      const owner = runOfKey(v.r2_key);
      if (owner && ownerChecks[owner]?.deliveryPending) {
        this.sql.exec(
          "UPDATE artifact_version SET expires_at = ? WHERE project = ? AND name = ? AND version = ?",
          now + DEFER_MS,
          v.project,
          v.name,
          v.version,
        );
        continue;
      }
      // Another retained version with the same bytes' key keeps them.
      const shared = all(
        this.sql,
        "SELECT 1 FROM artifact_version WHERE r2_key = ? AND expired_at IS NULL AND NOT (project = ? AND name = ? AND version = ?) LIMIT 1",
        v.r2_key,
        v.project,
        v.name,
        v.version,
      );
      if (shared.length === 0) {
        await this.bucket.delete(v.r2_key);
        counts.keysDeleted++;
        if (owner)
          this.sql.exec(
            "UPDATE run_index SET artifact_bytes = MAX(0, artifact_bytes - ?) WHERE run_id = ?",
            v.size,
            owner,
          );
      }
      this.sql.exec(
        "UPDATE artifact_version SET expires_at = NULL, expired_at = ? WHERE project = ? AND name = ? AND version = ?",
        now,
        v.project,
        v.name,
        v.version,
      );
      counts.versionsExpired++;
    }
    return more;
  }

  /** A batch of runs whose `column` deadline has come, with home's checks of each (one call). */
  private async dueRuns(
    column: "expires_at" | "unpublished_due",
    index: "run_index_expires" | "run_index_unpublished_due",
    now: number,
  ): Promise<{ runs: [string, RunChecks][]; more: boolean }> {
    const due = all<{ run_id: string }>(
      this.sql,
      `SELECT run_id FROM run_index INDEXED BY ${index} WHERE ${column} IS NOT NULL AND ${column} <= ?
       ORDER BY ${column} LIMIT ?`,
      now,
      SWEEP_BATCH + 1,
    );
    const ids = due.slice(0, SWEEP_BATCH).map((r) => r.run_id);
    const checks = ids.length > 0 ? await this.home(ids) : {};
    return { runs: ids.map((id) => [id, checks[id] ?? NONE]), more: due.length > SWEEP_BATCH };
  }

  private async retryRunning(runId: string): Promise<boolean> {
    const retry = await this.retriedAs(runId);
    if (retry === null) return false;
    return all(this.sql, `SELECT 1 FROM run_index WHERE run_id = ? AND status NOT IN (${TERMINAL})`, retry).length > 0;
  }

  /**
   * Deletes the run's R2 keys that no retained version holds (and, for `keepArchive`, not its
   * archive). `done` when the listing reached its end within this pass's pages.
   */
  private async deleteUnheld(
    runId: string,
    keepArchive: boolean,
    heldKeys: string[],
  ): Promise<{ deleted: number; done: boolean; keptBytes: number }> {
    const prefix = runPrefix(this.tenantId, runId);
    const archive = archiveKey(this.tenantId, runId);
    const held = new Set(heldKeys);
    let deleted = 0;
    let keptBytes = 0;
    let cursor: string | undefined;
    for (let page = 0; page < PAGES_PER_RUN; page++) {
      const listed = await this.bucket.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
      const doomed: string[] = [];
      for (const o of listed.objects) {
        const isArchive = o.key === archive;
        if (held.has(o.key) || (keepArchive && isArchive)) {
          if (!isArchive) keptBytes += o.size;
        } else doomed.push(o.key);
      }
      if (doomed.length > 0) await this.bucket.delete(doomed);
      deleted += doomed.length;
      if (!listed.truncated) return { deleted, done: true, keptBytes };
      cursor = listed.cursor;
    }
    return { deleted, done: false, keptBytes };
  }
}

/** The run whose prefix holds a key (`tenants/{t}/runs/{run}/…`). */
function runOfKey(key: string): string | null {
  const parts = key.split("/");
  return parts[0] === "tenants" && parts[2] === "runs" ? (parts[3] ?? null) : null;
}
