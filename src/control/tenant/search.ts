/**
 * The run index's search (issue 28): what a run is searched by, written where the index learns
 * of it, and the query that answers `GET /v1/runs` on one shard (home merges the shards' pages).
 *
 * Every filter is served by an index. Tags and metadata have tables of their own, keyed by
 * (label, created_at, run_id), with rows only for runs that carry them: an unlabelled run writes
 * nothing here. A search with a tag or a metadata pair walks that table newest first; other
 * searches walk an index of run_index whose leading columns are the filter's.
 */
import type { RunSummary } from "../../../schema/api";
import type { RunSearchFields } from "../../../schema/run";
import type { Labels, RunFilter } from "../../../schema/search";
import { TERMINAL_RUN_STATUSES, type RunStatus } from "../../../schema/vocabulary";
import { all } from "../sqlite";

const TERMINAL = [...TERMINAL_RUN_STATUSES];

export const SEARCH_MIGRATION = [
  // run_index.requested_by comes from RUN_AUDIT_MIGRATION (./run-audit.ts), which runs first.
  // JSON of Labels, for the run's summary; null for an unlabelled run.
  `ALTER TABLE run_index ADD COLUMN labels TEXT`,
  `CREATE TABLE run_tag (tag TEXT NOT NULL, created_at INTEGER NOT NULL, run_id TEXT NOT NULL,
     PRIMARY KEY (tag, created_at, run_id)) WITHOUT ROWID`,
  `CREATE TABLE run_meta (key TEXT NOT NULL, value TEXT NOT NULL, created_at INTEGER NOT NULL, run_id TEXT NOT NULL,
     PRIMARY KEY (key, value, created_at, run_id)) WITHOUT ROWID`,
  // Written once, when the run is indexed (neither column changes afterwards).
  `CREATE INDEX run_index_requester ON run_index (requested_by, created_at DESC, run_id DESC) WHERE requested_by IS NOT NULL`,
  `CREATE INDEX run_index_blueprint ON run_index (blueprint, created_at DESC, run_id DESC) WHERE blueprint IS NOT NULL`,
  // Written once, when the run ends (finished_at is set once, with its final status): finished
  // runs by status, newest first, with when they finished (a finishedAfter filter reads it here).
  `CREATE INDEX run_index_ended ON run_index (status, created_at DESC, run_id DESC, finished_at) WHERE finished_at IS NOT NULL`,
];

interface SearchRow {
  run_id: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  created_at: number;
  updated_at: number;
  archived_at: number | null;
  requested_by: string | null;
  labels: string | null;
}

export type RunPage = { items: RunSummary[]; next: { createdAt: number; runId: string } | null };

export function labelsJson(fields: RunSearchFields | undefined): string | null {
  const tags = fields?.tags ?? [];
  const metadata = fields?.metadata ?? {};
  return tags.length || Object.keys(metadata).length ? JSON.stringify({ tags, metadata } satisfies Labels) : null;
}

/** The label rows of a run just indexed (none for an unlabelled run). Idempotent. */
export function writeLabels(sql: SqlStorage, runId: string, createdAt: number, fields: RunSearchFields | undefined) {
  for (const tag of fields?.tags ?? [])
    sql.exec("INSERT OR IGNORE INTO run_tag (tag, created_at, run_id) VALUES (?,?,?)", tag, createdAt, runId);
  for (const [key, value] of Object.entries(fields?.metadata ?? {}))
    sql.exec(
      "INSERT OR IGNORE INTO run_meta (key, value, created_at, run_id) VALUES (?,?,?,?)",
      key,
      value,
      createdAt,
      runId,
    );
}

/**
 * Removes a run from the index with its label rows (found by their keys, from the entry's labels:
 * no scan). True when the index had the run.
 */
export function deleteIndexed(sql: SqlStorage, runId: string): boolean {
  const row = all<{ labels: string | null; created_at: number }>(
    sql,
    "DELETE FROM run_index WHERE run_id = ? RETURNING labels, created_at",
    runId,
  )[0];
  if (!row) return false;
  if (row.labels === null) return true;
  const { tags, metadata } = JSON.parse(row.labels) as Labels;
  for (const tag of tags)
    sql.exec("DELETE FROM run_tag WHERE tag = ? AND created_at = ? AND run_id = ?", tag, row.created_at, runId);
  for (const [key, value] of Object.entries(metadata))
    sql.exec(
      "DELETE FROM run_meta WHERE key = ? AND value = ? AND created_at = ? AND run_id = ?",
      key,
      value,
      row.created_at,
      runId,
    );
  return true;
}

interface Query {
  from: string;
  where: string[];
  params: (string | number)[];
}

/**
 * The table the search walks, newest first: a label's rows when it names one (aliased `d`, with
 * created_at and run_id), else run_index itself. The other labels are checked by their rows' keys.
 */
function driving(f: RunFilter): Query {
  const [first, ...tags] = f.tags ?? [];
  const pairs = Object.entries(f.metadata ?? {});
  const q: Query = { from: "run_index r", where: [], params: [] };
  let key = "r";
  if (first !== undefined) {
    q.from = "run_tag d JOIN run_index r ON r.run_id = d.run_id";
    q.where.push("d.tag = ?");
    q.params.push(first);
    key = "d";
  } else if (pairs.length) {
    const [k, v] = pairs.shift() as [string, string];
    q.from = "run_meta d JOIN run_index r ON r.run_id = d.run_id";
    q.where.push("d.key = ? AND d.value = ?");
    q.params.push(k, v);
    key = "d";
  }
  for (const tag of tags) {
    q.where.push(
      `EXISTS (SELECT 1 FROM run_tag t WHERE t.tag = ? AND t.created_at = ${key}.created_at AND t.run_id = ${key}.run_id)`,
    );
    q.params.push(tag);
  }
  for (const [k, v] of pairs) {
    q.where.push(
      `EXISTS (SELECT 1 FROM run_meta m WHERE m.key = ? AND m.value = ? AND m.created_at = ${key}.created_at AND m.run_id = ${key}.run_id)`,
    );
    q.params.push(k, v);
  }
  return q;
}

/** The filter's terms on run_index's own columns. Terms that imply a partial index's condition say it. */
function columnTerms(f: RunFilter, q: Query): void {
  const term = (sql: string, ...params: (string | number)[]) => {
    q.where.push(sql);
    q.params.push(...params);
  };
  if (f.project) term("r.project = ?", f.project);
  if (f.requestedBy) term("r.requested_by = ?", f.requestedBy);
  if (f.blueprint) term("r.blueprint = ?", f.blueprint);
  if (f.statuses?.length) {
    term(`r.status IN (${f.statuses.map(() => "?").join(",")})`, ...f.statuses);
    // Only finished runs: run_index_ended holds them by status.
    if (f.statuses.every((s) => TERMINAL.includes(s))) term("r.finished_at IS NOT NULL");
  }
  if (f.finishedAfter !== undefined) {
    // Only finished runs: run_index_ended holds them, by status (every ending one, unless the filter names some).
    if (!f.statuses?.length) term(`r.status IN (${TERMINAL.map(() => "?").join(",")})`, ...TERMINAL);
    term("r.finished_at IS NOT NULL AND r.finished_at >= ?", f.finishedAfter);
  }
  if (f.createdAfter !== undefined) term("r.created_at >= ?", f.createdAfter);
  if (f.createdBefore !== undefined) term("r.created_at < ?", f.createdBefore);
}

/** One page of this shard's runs matching `f`, newest first, after `cursor`. */
export function searchRuns(
  sql: SqlStorage,
  f: RunFilter,
  limit: number,
  cursor?: { createdAt: number; runId: string },
): RunPage {
  const q = driving(f);
  columnTerms(f, q);
  const key = q.from.startsWith("run_index") ? "r" : "d";
  if (cursor) {
    q.where.push(`(${key}.created_at < ? OR (${key}.created_at = ? AND ${key}.run_id < ?))`);
    q.params.push(cursor.createdAt, cursor.createdAt, cursor.runId);
  }
  const rows = all<SearchRow>(
    sql,
    `SELECT r.run_id, r.project, r.blueprint, r.status, r.created_at, r.updated_at, r.archived_at, r.requested_by, r.labels
     FROM ${q.from} ${q.where.length ? `WHERE ${q.where.join(" AND ")}` : ""}
     ORDER BY ${key}.created_at DESC, ${key}.run_id DESC LIMIT ?`,
    ...q.params,
    limit + 1,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(summary),
    next: rows.length > limit && last ? { createdAt: last.created_at, runId: last.run_id } : null,
  };
}

function summary(r: SearchRow): RunSummary {
  const labels = r.labels ? (JSON.parse(r.labels) as Labels) : { tags: [], metadata: {} };
  return {
    id: r.run_id,
    project: r.project,
    blueprint: r.blueprint,
    status: r.status,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
    archivedAt: r.archived_at === null ? null : new Date(r.archived_at).toISOString(),
    ...labels,
    requestedBy: r.requested_by,
  };
}

/** The query plan's indexes for a search (a test checks that each filter is served by one). */
export function searchPlan(sql: SqlStorage, f: RunFilter): string[] {
  const q = driving(f);
  columnTerms(f, q);
  const key = q.from.startsWith("run_index") ? "r" : "d";
  return all<{ detail: string }>(
    sql,
    `EXPLAIN QUERY PLAN SELECT r.run_id FROM ${q.from} ${q.where.length ? `WHERE ${q.where.join(" AND ")}` : ""}
     ORDER BY ${key}.created_at DESC, ${key}.run_id DESC LIMIT 21`,
    ...q.params,
  ).map((r) => r.detail);
}
