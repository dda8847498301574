/**
 * Capability routing in a pool's object (issue 27): which waiting step a worker may take (its
 * `kinds` name the step's job type, its `labels` satisfy the job type's `requires.labels`), the
 * book of the pool's workers (labels, kinds, last seen, in flight, completed, failed), and which
 * waiting steps no live worker could take for the tenant's `limits.unroutableAfterMs`.
 * SQL over the pool's own tables; the object (./object.ts) owns the transaction and the alarm.
 */
import { type Capabilities, type Labels, satisfies, WORKER_LIMITS, type WorkerView } from "../../../schema/workers";
import { all, json, one } from "../sqlite";

/** What the pool keeps of a waiting step besides its message, to route it. */
export interface Route {
  /** The step's job type. */
  kind: string;
  /** Labels a worker needs to take it (a tenant job type's `requires.labels`); empty: any. */
  requires: Labels;
  /** 0 high, 1 normal, 2 low: the run's priority. */
  priority: number;
}

/**
 * The next waiting step this worker may take: priority, then arrival. `requires` is matched in SQL
 * (`json_each` over the step's required labels against the worker's), so a step needing labels
 * the worker lacks is passed over without being read, however many wait before it.
 */
export function nextFor(sql: SqlStorage, caps: Capabilities): { rowid: number; body: string } | null {
  const kinds = caps.kinds;
  // A step offered before routing existed has no `kind`: its message's type is the same thing.
  const byKind =
    kinds === null ? "" : `AND COALESCE(kind, json_extract(body, '$.type')) IN (${kinds.map(() => "?").join(",")})`;
  return one<{ rowid: number; body: string }>(
    sql,
    `SELECT rowid, body FROM waiting w
     WHERE (w.requires IS NULL OR NOT EXISTS (
       SELECT 1 FROM json_each(w.requires) r WHERE json_extract(?, '$."' || r.key || '"') IS NOT r.value))
     ${byKind}
     ORDER BY priority, enqueued_at, rowid LIMIT 1`,
    JSON.stringify(caps.labels),
    ...(kinds ?? []),
  );
}

interface WorkerRow {
  id: string;
  token_id: string;
  labels: string;
  kinds: string | null;
  last_seen: number;
  completed: number;
  failed: number;
  in_flight: number;
}

/** A worker asked for work: it is live, with what it said it can do. */
export function sawWorker(sql: SqlStorage, tokenId: string, caps: Capabilities, now: number): void {
  sql.exec(
    `INSERT INTO worker (id, token_id, labels, kinds, last_seen) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET token_id = excluded.token_id, labels = excluded.labels, kinds = excluded.kinds,
       last_seen = excluded.last_seen`,
    caps.workerId,
    tokenId,
    JSON.stringify(caps.labels),
    caps.kinds === null ? null : JSON.stringify(caps.kinds),
    now,
  );
}

/** An attempt a worker leased ended with this outcome (reported by the worker itself). */
export function countOutcome(sql: SqlStorage, workerId: string | null, outcome: "succeeded" | "failed"): void {
  if (workerId === null) return;
  const column = outcome === "succeeded" ? "completed" : "failed";
  sql.exec(`UPDATE worker SET ${column} = ${column} + 1 WHERE id = ?`, workerId);
}

/** The pool's workers, most recently seen first; in flight: the leases each holds now. */
export function listWorkers(sql: SqlStorage, now: number): WorkerView[] {
  return all<WorkerRow>(
    sql,
    `SELECT w.*, (SELECT COUNT(*) FROM lease l WHERE l.worker_id = w.id) AS in_flight
     FROM worker w ORDER BY last_seen DESC LIMIT 500`,
  ).map((w) => ({
    id: w.id,
    tokenId: w.token_id,
    labels: json.read<Labels>(w.labels) ?? {},
    kinds: json.read<string[]>(w.kinds),
    lastSeen: new Date(w.last_seen).toISOString(),
    live: now - w.last_seen <= WORKER_LIMITS.liveWindowMs,
    inFlight: w.in_flight,
    completed: w.completed,
    failed: w.failed,
  }));
}

/** Workers seen within the live window, as capabilities. */
function liveWorkers(sql: SqlStorage, now: number): { kinds: string[] | null; labels: Labels }[] {
  return all<{ kinds: string | null; labels: string }>(
    sql,
    "SELECT kinds, labels FROM worker WHERE last_seen >= ?",
    now - WORKER_LIMITS.liveWindowMs,
  ).map((w) => ({ kinds: json.read<string[]>(w.kinds), labels: json.read<Labels>(w.labels) ?? {} }));
}

/** A waiting step that passed its unroutable bound with no live worker able to take it. */
export interface Unroutable {
  runId: string;
  stepId: string;
  attempt: number;
  kind: string;
  requires: Labels;
  waitedMs: number;
}

/** Checked per alarm: bounded work, the rest at the next alarm. */
const UNROUTABLE_BATCH = 100;

/**
 * Waiting steps older than `afterMs`, not yet noted, that no live worker could take: each is marked
 * (so it is noted once) and returned. One a live worker could take stays unmarked: it is looked at
 * again at the next check, in case that worker goes away.
 */
export function findUnroutable(sql: SqlStorage, afterMs: number, now: number): Unroutable[] {
  const due = all<DueRow>(
    sql,
    `SELECT rowid, run_id, step_id, attempt, kind, requires, enqueued_at FROM waiting
     WHERE unroutable_noted = 0 AND enqueued_at <= ? ORDER BY enqueued_at LIMIT ?`,
    now - afterMs,
    UNROUTABLE_BATCH,
  );
  if (due.length === 0) return [];
  const live = liveWorkers(sql, now);
  const found: Unroutable[] = [];
  for (const row of due) {
    const requires = json.read<Labels>(row.requires) ?? {};
    const routable = live.some(
      (w) => (w.kinds === null || w.kinds.includes(row.kind)) && satisfies(w.labels, requires),
    );
    if (routable) continue;
    sql.exec("UPDATE waiting SET unroutable_noted = 1 WHERE rowid = ?", row.rowid);
    found.push({
      runId: row.run_id,
      stepId: row.step_id,
      attempt: row.attempt,
      kind: row.kind,
      requires,
      waitedMs: now - row.enqueued_at,
    });
  }
  return found;
}

interface DueRow {
  rowid: number;
  run_id: string;
  step_id: string;
  attempt: number;
  kind: string;
  requires: string | null;
  enqueued_at: number;
}

/** How often waiting steps that a live worker could take are looked at again. */
const RECHECK_MS = 15_000;

/** When to look for unroutable steps next: when the oldest unnoted one comes due, not sooner than a recheck. */
export function nextUnroutableCheck(sql: SqlStorage, afterMs: number, now: number): number | null {
  const row = one<{ t: number | null }>(sql, "SELECT MIN(enqueued_at) AS t FROM waiting WHERE unroutable_noted = 0");
  if (row?.t === null || row?.t === undefined) return null;
  return row.t + afterMs > now ? row.t + afterMs : now + RECHECK_MS;
}
