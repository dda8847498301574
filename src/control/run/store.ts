/** The Run DO's SQLite schema and typed row access. No decisions here: see engine.ts. */
import {
  TERMINAL_RUN_STATUSES,
  type AttemptStatus,
  type EventType,
  type FailurePolicy,
  type PoolName,
  type Priority,
  type RunStatus,
  type StepStatus,
} from "../../../schema/vocabulary";
import type { Json, JsonObject } from "../../../schema/api";
import type { ErrorShape } from "../../errors";
import { json, migrate, type Migration } from "../sqlite";
import type { PoolBacklog } from "../metrics";
import { addModels, addTotals, emptyTotals, type AttemptRecord, type MeteredUsage, type RunUsage } from "../../analytics/usage";

export const RUN_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE run (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, project TEXT NOT NULL, blueprint TEXT,
      status TEXT NOT NULL, trace_id TEXT NOT NULL, error TEXT,
      created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, deadline_at INTEGER)`,
    `CREATE TABLE step (
      id TEXT PRIMARY KEY, position INTEGER NOT NULL, type TEXT NOT NULL, pool TEXT NOT NULL,
      input TEXT NOT NULL, depends_on TEXT NOT NULL, pending_deps INTEGER NOT NULL,
      status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL, timeout_ms INTEGER NOT NULL,
      output TEXT, error TEXT, queued_at INTEGER, started_at INTEGER, finished_at INTEGER)`,
    `CREATE INDEX step_status ON step (status)`,
    `CREATE TABLE edge (dep_id TEXT NOT NULL, step_id TEXT NOT NULL, PRIMARY KEY (dep_id, step_id))`,
    `CREATE TABLE attempt (
      step_id TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
      dispatched_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error TEXT,
      PRIMARY KEY (step_id, attempt))`,
    `CREATE TABLE event (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, step_id TEXT,
      occurred_at INTEGER NOT NULL, data TEXT NOT NULL)`,
    // One row per deadline; the DO's single alarm is always set to the earliest.
    `CREATE TABLE timer (
      kind TEXT NOT NULL, ref TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL,
      PRIMARY KEY (kind, ref))`,
    `CREATE INDEX timer_due ON timer (due_at)`,
    // Written in the same transaction as the state change; deleted once sent.
    `CREATE TABLE outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, pool TEXT, body TEXT NOT NULL)`,
    `CREATE TABLE artifact (
      name TEXT PRIMARY KEY, step_id TEXT NOT NULL, attempt INTEGER NOT NULL, r2_key TEXT NOT NULL,
      size INTEGER NOT NULL, content_type TEXT NOT NULL, sha256 TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  ],
  // v2: retry policy and heartbeats per step; failure policy and retry lineage per run.
  [
    `ALTER TABLE step ADD COLUMN initial_delay_ms INTEGER NOT NULL DEFAULT 1000`,
    `ALTER TABLE step ADD COLUMN max_delay_ms INTEGER NOT NULL DEFAULT 300000`,
    `ALTER TABLE step ADD COLUMN heartbeat_timeout_ms INTEGER`,
    `ALTER TABLE step ADD COLUMN depth INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE attempt ADD COLUMN usage TEXT`,
    `ALTER TABLE step ADD COLUMN spawned_by TEXT`,
    `ALTER TABLE run ADD COLUMN failure_policy TEXT NOT NULL DEFAULT 'fail-fast'`,
    `ALTER TABLE run ADD COLUMN retry_of TEXT`,
    `ALTER TABLE run ADD COLUMN retried_as TEXT`,
    `ALTER TABLE run ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'`,
  ],
];

export interface RunRow {
  id: string;
  tenant_id: string;
  project: string;
  blueprint: string | null;
  status: RunStatus;
  trace_id: string;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  deadline_at: number | null;
  failure_policy: FailurePolicy;
  priority: Priority;
  retry_of: string | null;
  retried_as: string | null;
}

export interface StepRow {
  id: string;
  position: number;
  type: string;
  pool: PoolName;
  input: string;
  depends_on: string;
  pending_deps: number;
  status: StepStatus;
  attempt: number;
  failures: number;
  max_attempts: number;
  initial_delay_ms: number;
  max_delay_ms: number;
  timeout_ms: number;
  heartbeat_timeout_ms: number | null;
  /** 0 for the run's own steps; a spawned step is one deeper than the step that spawned it. */
  depth: number;
  spawned_by: string | null;
  output: string | null;
  error: string | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface EventRow {
  seq: number;
  type: EventType;
  step_id: string | null;
  occurred_at: number;
  data: string;
}

export interface ArtifactRow {
  name: string;
  step_id: string;
  attempt: number;
  r2_key: string;
  size: number;
  content_type: string;
  sha256: string;
  created_at: number;
}

/** The events that end an attempt or a run: what analytics reports. */
export const ENDINGS = ["step.succeeded", "step.failed", "step.retrying", "run.succeeded", "run.failed", "run.cancelled"] as const satisfies readonly EventType[];

const ENDING_TYPES: ReadonlySet<EventType> = new Set(ENDINGS);

export interface EndingRow {
  seq: number;
  type: (typeof ENDINGS)[number];
  step_id: string | null;
  occurred_at: number;
  pool: string | null;
  step_type: string | null;
  attempt: number | null;
  dispatched_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  usage: string | null;
  error_code: string | null;
  artifact_bytes: number;
}

export type TimerKind = "lease" | "backoff" | "outbox" | "deadline";
export interface TimerRow {
  kind: TimerKind;
  ref: string;
  attempt: number;
  due_at: number;
}

export type OutboxKind = "dispatch" | "tenant" | "webhook";
export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  pool: PoolName | null;
  body: string;
}

type Row = Record<string, SqlStorageValue>;

/** Bound parameters per statement, kept well under SQLite's limit. */
const IN_CHUNK = 90;

export class RunStore {
  /** False for an object that has never held a run: it has no tables, and reads find nothing. */
  private ready: boolean;
  /** Set when an ending event is appended, until endingsSince() reads it (in memory only). */
  private endingLogged = true;
  /**
   * Reads the hot path repeats many times per transaction, kept in memory: the run's row (read by
   * nearly every decision), the last event's seq, and the run's usage (asked for twice at its end).
   * Writes through this store drop or update them; a transaction that throws drops them all
   * (`forgetCaches`), since what they saw was rolled back.
   */
  private cachedRun: RunRow | null | undefined;
  private cachedSeq: number | undefined;
  private cachedUsage: RunUsage | undefined;
  /** Timers already written by this transaction, with the due time written (see setTimer). */
  private readonly timersThisTxn = new Map<string, { due: number; attempt: number; exact: boolean }>();

  constructor(private readonly sql: SqlStorage) {
    this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
  }

  /** Upgrades an existing schema. A fresh object stays empty, so asking for a missing run writes nothing. */
  open(migrations: readonly Migration[] = RUN_MIGRATIONS): void {
    if (this.ready) migrate(this.sql, migrations);
  }

  /** Creates the schema for a new run. */
  initialize(): void {
    if (!this.ready) migrate(this.sql, RUN_MIGRATIONS);
    this.ready = true;
  }

  /** Called first in every transaction: per-transaction memos start empty. */
  beginTransaction(): void {
    this.timersThisTxn.clear();
  }

  /** After a transaction that threw: what the caches hold may have been rolled back. */
  forgetCaches(): void {
    this.cachedRun = undefined;
    this.cachedSeq = undefined;
    this.cachedUsage = undefined;
    this.timersThisTxn.clear();
  }

  private all<T>(query: string, ...params: unknown[]): T[] {
    return this.sql.exec<Row>(query, ...params).toArray() as unknown as T[];
  }

  private one<T>(query: string, ...params: unknown[]): T | null {
    return (this.all<T>(query, ...params)[0] ?? null) as T | null;
  }

  run(): RunRow | null {
    if (!this.ready) return null;
    if (this.cachedRun === undefined) this.cachedRun = this.one<RunRow>("SELECT * FROM run LIMIT 1");
    return this.cachedRun;
  }

  insertRun(r: Omit<RunRow, "error" | "started_at" | "finished_at" | "retried_as">): void {
    this.cachedRun = undefined;
    this.sql.exec(
      "INSERT INTO run (id, tenant_id, project, blueprint, status, trace_id, created_at, deadline_at, failure_policy, priority, retry_of) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
      r.id, r.tenant_id, r.project, r.blueprint, r.status, r.trace_id, r.created_at, r.deadline_at, r.failure_policy, r.priority, r.retry_of,
    );
  }

  setRetriedAs(runId: string): void {
    this.cachedRun = undefined;
    this.sql.exec("UPDATE run SET retried_as = ?", runId);
  }

  setRunStatus(status: RunStatus, at: number, error: ErrorShape | null = null): void {
    const run = this.cachedRun;
    if (status === "running") {
      this.sql.exec("UPDATE run SET status = ?, started_at = COALESCE(started_at, ?)", status, at);
      this.cachedRun = run ? { ...run, status, started_at: run.started_at ?? at } : undefined;
    } else if (TERMINAL_RUN_STATUSES.has(status)) {
      const errorText = error ? json.write(error) : null;
      this.sql.exec("UPDATE run SET status = ?, finished_at = ?, error = ?", status, at, errorText);
      this.cachedRun = run ? { ...run, status, finished_at: at, error: errorText } : undefined;
    } else {
      this.sql.exec("UPDATE run SET status = ?", status);
      this.cachedRun = run ? { ...run, status } : undefined;
    }
  }

  insertStep(
    s: Pick<
      StepRow,
      | "id" | "position" | "type" | "pool" | "input" | "depends_on" | "pending_deps" | "max_attempts" | "initial_delay_ms" | "max_delay_ms"
      | "timeout_ms" | "heartbeat_timeout_ms" | "depth" | "spawned_by"
    >,
  ): void {
    this.sql.exec(
      `INSERT INTO step (id, position, type, pool, input, depends_on, pending_deps, status, max_attempts, initial_delay_ms, max_delay_ms,
         timeout_ms, heartbeat_timeout_ms, depth, spawned_by)
       VALUES (?,?,?,?,?,?,?,'pending',?,?,?,?,?,?,?)`,
      s.id, s.position, s.type, s.pool, s.input, s.depends_on, s.pending_deps, s.max_attempts, s.initial_delay_ms, s.max_delay_ms,
      s.timeout_ms, s.heartbeat_timeout_ms, s.depth, s.spawned_by,
    );
  }

  stepCount(): number {
    return this.one<{ n: number }>("SELECT COUNT(*) AS n FROM step")!.n;
  }

  existingStepIds(ids: readonly string[]): string[] {
    return this.allIn<{ id: string }>("SELECT id FROM step WHERE id IN (?)", ids).map((r) => r.id);
  }

  /** Runs `query` (whose one `IN (?)` takes the list) in chunks: SQLite bounds bound parameters. */
  private allIn<T>(query: string, values: readonly SqlStorageValue[]): T[] {
    const out: T[] = [];
    for (let i = 0; i < values.length; i += IN_CHUNK) {
      const chunk = values.slice(i, i + IN_CHUNK);
      out.push(...this.all<T>(query.replace("IN (?)", `IN (${chunk.map(() => "?").join(",")})`), ...chunk));
    }
    return out;
  }

  /** Makes `stepId` also wait for `more` unfinished dependencies. */
  addPendingDeps(stepId: string, more: number): void {
    this.sql.exec("UPDATE step SET pending_deps = pending_deps + ? WHERE id = ?", more, stepId);
  }

  attemptStartedAt(stepId: string, attempt: number): number | null {
    return this.one<{ started_at: number | null }>("SELECT started_at FROM attempt WHERE step_id = ? AND attempt = ?", stepId, attempt)?.started_at ?? null;
  }

  hasTimer(kind: TimerKind, ref: string): boolean {
    return this.one<{ n: number }>("SELECT COUNT(*) AS n FROM timer WHERE kind = ? AND ref = ?", kind, ref)!.n > 0;
  }

  /** Recounts unmet dependencies of every pending step (after a retry carried some over). */
  recountPendingDeps(): void {
    this.sql.exec(
      `UPDATE step SET pending_deps = (
         SELECT COUNT(*) FROM edge JOIN step AS dep ON dep.id = edge.dep_id
         WHERE edge.step_id = step.id AND dep.status != 'succeeded')
       WHERE status = 'pending'`,
    );
  }

  insertEdge(depId: string, stepId: string): void {
    this.sql.exec("INSERT INTO edge (dep_id, step_id) VALUES (?, ?)", depId, stepId);
  }

  step(id: string): StepRow | null {
    return this.one<StepRow>("SELECT * FROM step WHERE id = ?", id);
  }

  steps(): StepRow[] {
    return this.all<StepRow>("SELECT * FROM step ORDER BY position");
  }

  stepsWithStatus(statuses: readonly StepStatus[]): StepRow[] {
    const marks = statuses.map(() => "?").join(",");
    return this.all<StepRow>(`SELECT * FROM step WHERE status IN (${marks}) ORDER BY position`, ...statuses);
  }

  /** Roots: steps with no dependencies left. */
  readyPending(): StepRow[] {
    return this.all<StepRow>("SELECT * FROM step WHERE status = 'pending' AND pending_deps = 0 ORDER BY position");
  }

  /** Marks `depId` as satisfied for its dependents; returns the ones that became ready. */
  releaseDependents(depId: string): StepRow[] {
    this.sql.exec(
      "UPDATE step SET pending_deps = pending_deps - 1 WHERE id IN (SELECT step_id FROM edge WHERE dep_id = ?)",
      depId,
    );
    return this.all<StepRow>(
      "SELECT * FROM step WHERE status = 'pending' AND pending_deps = 0 AND id IN (SELECT step_id FROM edge WHERE dep_id = ?) ORDER BY position",
      depId,
    );
  }

  dependentsOf(depId: string): string[] {
    return this.all<{ step_id: string }>("SELECT step_id FROM edge WHERE dep_id = ?", depId).map((r) => r.step_id);
  }

  /** Steps in flight by pool: dispatched and waiting, running, or waiting to retry. */
  backlog(): PoolBacklog[] {
    if (!this.ready) return [];
    return this.all<PoolBacklog>(
      `SELECT pool, SUM(status = 'queued') AS queued, SUM(status = 'running') AS running, SUM(status = 'retrying') AS retrying
       FROM step WHERE status IN ('queued', 'running', 'retrying') GROUP BY pool ORDER BY pool`,
    );
  }

  countUnfinishedSteps(): number {
    return this.one<{ n: number }>(
      "SELECT COUNT(*) AS n FROM step WHERE status NOT IN ('succeeded','failed','cancelled','skipped')",
    )!.n;
  }

  updateStep(id: string, patch: Partial<Omit<StepRow, "id">>): void {
    const keys = Object.keys(patch) as (keyof typeof patch)[];
    if (keys.length === 0) return;
    const assignments = keys.map((k) => `${k} = ?`).join(", ");
    this.sql.exec(`UPDATE step SET ${assignments} WHERE id = ?`, ...keys.map((k) => patch[k] ?? null), id);
  }

  outputs(ids: readonly string[]): JsonObject {
    const rows = this.allIn<{ id: string; output: string | null }>("SELECT id, output FROM step WHERE id IN (?)", ids);
    return Object.fromEntries(rows.map((r) => [r.id, json.read<Json>(r.output)]));
  }

  insertAttempt(stepId: string, attempt: number, at: number): void {
    this.cachedUsage = undefined;
    this.sql.exec(
      "INSERT INTO attempt (step_id, attempt, status, dispatched_at) VALUES (?, ?, 'dispatched', ?)",
      stepId, attempt, at,
    );
  }

  setAttemptUsage(stepId: string, attempt: number, usage: AttemptRecord): void {
    this.cachedUsage = undefined;
    this.sql.exec("UPDATE attempt SET usage = ? WHERE step_id = ? AND attempt = ?", json.write(usage), stepId, attempt);
  }

  setAttempt(stepId: string, attempt: number, status: AttemptStatus, at: number, error: ErrorShape | null = null): void {
    if (status === "running") {
      this.cachedUsage = undefined;
      this.sql.exec("UPDATE attempt SET status = ?, started_at = ? WHERE step_id = ? AND attempt = ?", status, at, stepId, attempt);
    } else {
      this.cachedUsage = undefined;
      this.sql.exec(
        "UPDATE attempt SET status = ?, finished_at = ?, error = ? WHERE step_id = ? AND attempt = ?",
        status, at, error ? json.write(error) : null, stepId, attempt,
      );
    }
  }

  appendEvent(type: EventType, at: number, stepId: string | null, data: Record<string, unknown>): number {
    if (ENDING_TYPES.has(type)) this.endingLogged = true;
    this.cachedSeq = this.sql
      .exec<{ seq: number }>("INSERT INTO event (type, step_id, occurred_at, data) VALUES (?, ?, ?, ?) RETURNING seq", type, stepId, at, json.write(data))
      .one().seq;
    return this.cachedSeq;
  }

  eventsBySeq(seqs: readonly number[]): EventRow[] {
    return this.allIn<EventRow>("SELECT * FROM event WHERE seq IN (?)", seqs).sort((a, b) => a.seq - b.seq);
  }

  /**
   * What the run used, per pool and in total, from the attempts it recorded and the artifacts
   * they wrote. Steps carried over from a retried run used nothing here: they have no attempts.
   */
  usage(): RunUsage {
    // Asked for twice at a run's end (the tenant's sync, the analytics points); attempt and
    // artifact writes drop it.
    this.cachedUsage ??= this.readUsage();
    return this.cachedUsage;
  }

  private readUsage(): RunUsage {
    const pools: Record<string, MeteredUsage> = {};
    const pool = (name: string) => (pools[name] ??= { ...emptyTotals(), models: {} });
    for (const r of this.all<{ pool: string } & Omit<MeteredUsage, "models" | "artifactBytes">>(
      `SELECT s.pool AS pool, COUNT(DISTINCT a.step_id) AS steps, COUNT(*) AS attempts,
         COALESCE(SUM(a.finished_at - a.started_at), 0) AS wallMs,
         COALESCE(SUM(json_extract(a.usage, '$.cpuMs')), 0) AS cpuMs,
         COALESCE(SUM(json_extract(a.usage, '$.tokensIn')), 0) AS tokensIn,
         COALESCE(SUM(json_extract(a.usage, '$.tokensOut')), 0) AS tokensOut,
         COALESCE(SUM(json_extract(a.usage, '$.queueOps')), 0) AS queueOps,
         COALESCE(SUM(json_extract(a.usage, '$.objectCalls')), 0) AS objectCalls,
         COALESCE(SUM(json_extract(a.usage, '$.r2Writes')), 0) AS r2Writes
       FROM attempt a JOIN step s ON s.id = a.step_id GROUP BY s.pool`,
    )) {
      const { pool: name, ...totals } = r;
      Object.assign(pool(name), totals);
    }
    for (const r of this.all<{ pool: string; bytes: number }>(
      `SELECT s.pool AS pool, SUM(f.size) AS bytes FROM artifact f
       JOIN step s ON s.id = f.step_id JOIN attempt a ON a.step_id = f.step_id AND a.attempt = f.attempt GROUP BY s.pool`,
    )) pool(r.pool).artifactBytes = r.bytes;
    for (const r of this.all<{ pool: string; model: string; tokensIn: number; tokensOut: number }>(
      `SELECT s.pool AS pool, m.key AS model, SUM(json_extract(m.value, '$.tokensIn')) AS tokensIn, SUM(json_extract(m.value, '$.tokensOut')) AS tokensOut
       FROM attempt a JOIN step s ON s.id = a.step_id, json_each(a.usage, '$.models') m WHERE a.usage IS NOT NULL GROUP BY s.pool, m.key`,
    )) pool(r.pool).models[r.model] = { tokensIn: r.tokensIn, tokensOut: r.tokensOut };
    return sumPools(pools);
  }

  /**
   * Attempt and run endings logged after event `after`, with what analytics needs of each
   * (src/control/run/analytics.ts). Reads the event log, as every other consumer of it does.
   */
  endingsSince(after: number): EndingRow[] {
    // Most transactions end nothing (a dispatch, a start, a heartbeat): skip the query for them.
    if (!this.ready || !this.endingLogged) return [];
    this.endingLogged = false;
    return this.all<EndingRow>(
      `SELECT e.seq, e.type, e.step_id, e.occurred_at, s.pool, s.type AS step_type,
         a.attempt, a.dispatched_at, a.started_at, a.finished_at, a.usage,
         json_extract(e.data, '$.error.code') AS error_code,
         (SELECT COALESCE(SUM(f.size), 0) FROM artifact f WHERE f.step_id = a.step_id AND f.attempt = a.attempt) AS artifact_bytes
       FROM event e
       LEFT JOIN step s ON s.id = e.step_id
       LEFT JOIN attempt a ON a.step_id = e.step_id AND a.attempt = json_extract(e.data, '$.attempt')
       WHERE e.seq > ? AND e.type IN (${ENDINGS.map((t) => `'${t}'`).join(",")}) ORDER BY e.seq`,
      after,
    );
  }

  lastEventSeq(): number {
    if (!this.ready) return 0;
    this.cachedSeq ??= this.one<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM event")!.seq ?? 0;
    return this.cachedSeq;
  }

  events(after: number, limit: number): EventRow[] {
    return this.all<EventRow>("SELECT * FROM event WHERE seq > ? ORDER BY seq LIMIT ?", after, limit);
  }

  /**
   * Sets a timer (replacing its due time). Writing the same timer again in one transaction is
   * skipped: every outbox row re-arms the same re-send timer.
   */
  setTimer(kind: TimerKind, ref: string, dueAt: number, attempt = 0): void {
    const key = `${kind}:${ref}`;
    const memo = this.timersThisTxn.get(key);
    if (memo?.exact && memo.due === dueAt && memo.attempt === attempt) return;
    this.sql.exec(
      "INSERT INTO timer (kind, ref, attempt, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, ref) DO UPDATE SET attempt = excluded.attempt, due_at = excluded.due_at",
      kind, ref, attempt, dueAt,
    );
    this.timersThisTxn.set(key, { due: dueAt, attempt, exact: true });
  }

  /** Sets a timer, or moves an existing one earlier, never later. */
  setTimerNoLater(kind: TimerKind, ref: string, dueAt: number): void {
    const key = `${kind}:${ref}`;
    const memo = this.timersThisTxn.get(key);
    if (memo && memo.due <= dueAt) return; // already due no later than that
    this.sql.exec(
      "INSERT INTO timer (kind, ref, attempt, due_at) VALUES (?, ?, 0, ?) ON CONFLICT (kind, ref) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)",
      kind, ref, dueAt,
    );
    // The row is now due at dueAt or earlier: an upper bound, not the exact time.
    this.timersThisTxn.set(key, { due: dueAt, attempt: 0, exact: false });
  }

  timerDueAt(kind: TimerKind, ref: string): number | null {
    return this.one<{ due_at: number }>("SELECT due_at FROM timer WHERE kind = ? AND ref = ?", kind, ref)?.due_at ?? null;
  }

  clearTimer(kind: TimerKind, ref: string): void {
    this.timersThisTxn.clear();
    this.sql.exec("DELETE FROM timer WHERE kind = ? AND ref = ?", kind, ref);
  }

  clearStepTimers(stepId: string): void {
    this.timersThisTxn.clear();
    this.sql.exec("DELETE FROM timer WHERE kind IN ('lease','backoff') AND ref = ?", stepId);
  }

  dueTimers(now: number): TimerRow[] {
    if (!this.ready) return [];
    return this.all<TimerRow>("SELECT * FROM timer WHERE due_at <= ? ORDER BY due_at", now);
  }

  nextTimer(): number | null {
    if (!this.ready) return null;
    return this.one<{ due: number | null }>("SELECT MIN(due_at) AS due FROM timer")!.due;
  }

  enqueue(kind: OutboxKind, pool: PoolName | null, body: unknown): void {
    this.sql.exec("INSERT INTO outbox (kind, pool, body) VALUES (?, ?, ?)", kind, pool, json.write(body));
  }

  outbox(limit = 1000): OutboxRow[] {
    return this.all<OutboxRow>("SELECT * FROM outbox ORDER BY id LIMIT ?", limit);
  }

  deleteOutbox(ids: readonly number[]): void {
    this.allIn("DELETE FROM outbox WHERE id IN (?) RETURNING id", ids);
  }

  lastOutboxId(): number {
    return this.one<{ id: number | null }>("SELECT MAX(id) AS id FROM outbox")!.id ?? 0;
  }

  /** The first dispatch for `pool` written after outbox row `after`. */
  dispatchSince(pool: PoolName, after: number): OutboxRow | null {
    return this.one<OutboxRow>("SELECT * FROM outbox WHERE kind = 'dispatch' AND pool = ? AND id > ? ORDER BY id LIMIT 1", pool, after);
  }

  outboxEmpty(): boolean {
    return this.all("SELECT 1 FROM outbox LIMIT 1").length === 0;
  }

  artifact(name: string): ArtifactRow | null {
    return this.one<ArtifactRow>("SELECT * FROM artifact WHERE name = ?", name);
  }

  artifacts(): ArtifactRow[] {
    return this.all<ArtifactRow>("SELECT * FROM artifact ORDER BY created_at, name");
  }

  insertArtifact(a: ArtifactRow): void {
    this.cachedUsage = undefined;
    this.sql.exec(
      "INSERT INTO artifact (name, step_id, attempt, r2_key, size, content_type, sha256, created_at) VALUES (?,?,?,?,?,?,?,?)",
      a.name, a.step_id, a.attempt, a.r2_key, a.size, a.content_type, a.sha256, a.created_at,
    );
  }
}

/** A run's totals are its pools' totals added up. */
function sumPools(pools: Record<string, MeteredUsage>): RunUsage {
  const total: RunUsage = { ...emptyTotals(), models: {}, pools };
  for (const p of Object.values(pools)) {
    addTotals(total, p);
    addModels(total.models, p.models);
  }
  return total;
}
