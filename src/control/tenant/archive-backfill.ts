/**
 * The archive backfill: runs that finished before retention (issue 20) set no archive timer, so
 * they would stay hot in their objects for ever. Every tenant object that held data before this
 * migration gets one pass over its run index (the row the migration inserts, an `upgradeOnly`
 * statement: a new object has no such runs and gets no row). The pass walks the index in run id
 * order, a bounded page per alarm, and asks each finished, unarchived run that never had a final
 * sync under retention (`finished_at` is null: retention's sync sets it) to set its archive timer
 * under its project's policy now (run/archive.ts, `backfillArchive`); the run's own alarm then
 * archives it, and the archival records it here as any other. A run asked twice answers false.
 *
 * The lifecycle sweep (lifecycle.ts) runs it: its `due_at` is one of the sweep's deadlines.
 */
import { TERMINAL_RUN_STATUSES, type RunStatus } from "../../../schema/vocabulary";
import { logError } from "../../lib/log";
import { all, one, upgradeOnly } from "../sqlite";

export const ARCHIVE_BACKFILL_MIGRATION = [
  `CREATE TABLE archive_backfill (id INTEGER PRIMARY KEY CHECK (id = 1), after TEXT NOT NULL, due_at INTEGER NOT NULL)`,
  // Due at once: 1, not 0, because a deadline here becomes the alarm's time, which must be positive.
  upgradeOnly(`INSERT INTO archive_backfill (id, after, due_at) VALUES (1, '', 1)`),
];

/** Index rows looked at per pass (each an indexed read by primary key). */
export const BACKFILL_PAGE = 200;
/** When a run could not be asked (its object failed), the page is tried again after this. */
export const BACKFILL_RETRY_MS = 60_000;

/** Asks one run's object to set its archive timer under its project's retention; true if it did. */
export type ArchiveNudge = (runId: string, project: string) => Promise<boolean>;

interface IndexRow {
  run_id: string;
  project: string;
  status: RunStatus;
  archived_at: number | null;
  finished_at: number | null;
}

export class ArchiveBackfill {
  constructor(
    private readonly sql: SqlStorage,
    private readonly nudge: ArchiveNudge,
  ) {}

  /** When the next page is due; null once the pass is done (or for an object made after it). */
  nextDue(): number | null {
    return one<{ due_at: number }>(this.sql, "SELECT due_at FROM archive_backfill WHERE id = 1")?.due_at ?? null;
  }

  /** One page of the pass if it is due; `more` when pages are left. `nudged`: runs that set their timer. */
  async page(now: number): Promise<{ more: boolean; nudged: number }> {
    const state = one<{ after: string; due_at: number }>(
      this.sql,
      "SELECT after, due_at FROM archive_backfill WHERE id = 1",
    );
    if (!state || state.due_at > now) return { more: false, nudged: 0 };
    const rows = all<IndexRow>(
      this.sql,
      "SELECT run_id, project, status, archived_at, finished_at FROM run_index WHERE run_id > ? ORDER BY run_id LIMIT ?",
      state.after,
      BACKFILL_PAGE,
    );
    const stale = rows.filter(
      (r) => TERMINAL_RUN_STATUSES.has(r.status) && r.archived_at === null && r.finished_at === null,
    );
    const answers = await Promise.allSettled(stale.map((r) => this.nudge(r.run_id, r.project)));
    const failed = answers.filter((a) => a.status === "rejected");
    if (failed.length > 0) {
      // The page is asked again (asking a run twice is harmless): nothing is skipped for a failure.
      logError("tenant.archive_backfill_failed", { failed: failed.length, error: String(failed[0]?.reason) });
      this.sql.exec("UPDATE archive_backfill SET due_at = ? WHERE id = 1", now + BACKFILL_RETRY_MS);
      return { more: false, nudged: 0 };
    }
    const nudged = answers.filter((a) => a.status === "fulfilled" && a.value).length;
    const last = rows[rows.length - 1];
    if (rows.length < BACKFILL_PAGE || !last) {
      this.sql.exec("DELETE FROM archive_backfill");
      return { more: false, nudged };
    }
    this.sql.exec("UPDATE archive_backfill SET after = ?, due_at = ? WHERE id = 1", last.run_id, now);
    return { more: true, nudged };
  }
}
