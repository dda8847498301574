/** The Run DO's typed row access over its SQLite (schema and rows: rows.ts). No decisions here: see engine.ts. */
import {
  TERMINAL_RUN_STATUSES,
  type AttemptStatus,
  type EventType,
  type PoolName,
  type RunStatus,
  type StepStatus,
} from "../../../schema/vocabulary";
import type { Json, JsonObject } from "../../../schema/api";
import { createSchema, execIn, insertMany, json, migrate, type Migration } from "../sqlite";
import { OutboxTable, type OutboxKind, type OutboxRow } from "./outbox-table";
import { TimerTable, type TimerKind, type TimerRow } from "./timers";
import {
  ENDING_TYPES,
  ENDINGS,
  RUN_MIGRATIONS,
  type ArtifactRow,
  type EndingRow,
  type EventRow,
  type RunRow,
  type StepRow,
} from "./rows";
import type { PoolBacklog } from "../metrics";
import { addModels, addTotals, emptyTotals, type AttemptRecord } from "../../analytics/usage";
import type { ErrorShape } from "../../../schema/errors";
import { type MeteredUsage, type RunUsage } from "../../../schema/usage";

type Row = Record<string, SqlStorageValue>;

const TOUCHES_ATTEMPT = /\b(?:FROM|JOIN|INTO|UPDATE) attempt\b/;

/** Columns of a step row as inserted (the rest start at their defaults). */
type NewStep = Pick<
  StepRow,
  | "id"
  | "position"
  | "type"
  | "pool"
  | "input"
  | "depends_on"
  | "pending_deps"
  | "max_attempts"
  | "initial_delay_ms"
  | "max_delay_ms"
  | "timeout_ms"
  | "heartbeat_timeout_ms"
  | "depth"
  | "spawned_by"
>;

/** An attempt row's columns that change after its insert. */
interface AttemptWrite {
  /** Not in SQLite yet: written whole at commit. */
  insert: boolean;
  dispatched_at?: number;
  status?: AttemptStatus;
  started_at?: number;
  finished_at?: number;
  error?: string | null;
  usage?: string;
}

/**
 * The run's rows, read and written by the engine inside the object's transactions. A decision
 * touches the same rows many times (the run's status moves three times while it is created; a
 * step's attempt is updated by its begin, its usage and its end), so writes are collected and go
 * to SQLite when the transaction commits (`commit`), as few multi-row statements as the parameter
 * limit allows; anything that reads a table first writes what is pending for it. What a
 * transaction collected is dropped if it throws (`forgetCaches`), with everything it rolled back.
 */
export class RunStore {
  /** False for an object that has never held a run: it has no tables, and reads find nothing. */
  private ready: boolean;
  /**
   * Set when an ending event is appended, until endingsSince() reads it (in memory only). Starts
   * false: the object's analytics start from the log's end when it (re)starts.
   */
  private endingLogged = false;
  /**
   * Reads the hot path repeats many times per transaction, kept in memory: the run's row (read by
   * nearly every decision), the last event's seq, and the run's usage (asked for twice at its end).
   */
  private cachedRun: RunRow | null | undefined;
  private cachedSeq: number | undefined;
  private cachedUsage: RunUsage | undefined;
  /** The run row as this transaction left it: to insert, or to update. */
  private runWrite: "insert" | "update" | null = null;
  private pendingSteps: NewStep[] = [];
  /**
   * Step rows as this transaction knows them (read, or returned by an update), each replaced,
   * never mutated, when patched: a row the engine holds stays what it read. Their patches go to
   * SQLite before any other statement on the table, and at commit: a dispatch and the begin of a
   * continuation, or a step's usage and its end, are one write.
   */
  private readonly txnSteps = new Map<string, StepRow>();
  private readonly stepPatches = new Map<string, Partial<StepRow>>();
  private pendingEdges: [string, string][] = [];
  private readonly pendingAttempts = new Map<string, AttemptWrite>();
  private pendingEvents: EventRow[] = [];
  private readonly timers: TimerTable;
  private readonly outboxRows: OutboxTable;

  constructor(private readonly sql: SqlStorage) {
    this.ready =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
    this.timers = new TimerTable(sql);
    this.outboxRows = new OutboxTable(sql);
  }

  /** Upgrades an existing schema. A fresh object stays empty, so asking for a missing run writes nothing. */
  open(migrations: readonly Migration[] = RUN_MIGRATIONS): void {
    if (this.ready) migrate(this.sql, migrations);
  }

  /** Creates the schema for a new run, in one script; its tables start empty, so nothing needs reading. */
  initialize(): void {
    if (this.ready) return;
    if (!createSchema(this.sql, RUN_MIGRATIONS)) migrate(this.sql, RUN_MIGRATIONS);
    this.ready = true;
    this.cachedRun = null;
    this.cachedSeq = 0;
    this.timers.startEmpty();
    this.outboxRows.startEmpty();
  }

  /** Called first in every transaction. */
  beginTransaction(): void {
    this.runWrite = null;
    this.txnSteps.clear();
  }

  /** Called last in every transaction: writes what it collected. */
  commit(): void {
    this.writeRun();
    this.writeSteps();
    this.writeAttempts();
    if (this.pendingEvents.length > 0) {
      insertMany(
        this.sql,
        "INSERT INTO event (seq, type, step_id, occurred_at, data)",
        5,
        this.pendingEvents.map((e) => [e.seq, e.type, e.step_id, e.occurred_at, e.data]),
      );
      this.pendingEvents = [];
    }
    this.timers.flush();
    this.outboxRows.flush();
    this.txnSteps.clear(); // outside a transaction, step reads go to SQLite
  }

  /** After a transaction that threw: what the caches and buffers hold may have been rolled back. */
  forgetCaches(): void {
    this.cachedRun = undefined;
    this.cachedSeq = undefined;
    this.cachedUsage = undefined;
    this.runWrite = null;
    this.pendingSteps = [];
    this.pendingEdges = [];
    this.txnSteps.clear();
    this.stepPatches.clear();
    this.pendingAttempts.clear();
    this.pendingEvents = [];
    this.timers.forget();
    this.outboxRows.forget();
  }

  /**
   * Every statement on the store's tables first writes the steps and edges pending, and the
   * attempts pending if it touches that table (so an attempt's usage and end stay one write).
   */
  private exec(query: string, ...params: unknown[]): SqlStorageCursor<Row> {
    this.writePendingFor(query);
    return this.sql.exec<Row>(query, ...params);
  }

  private writePendingFor(query: string): void {
    this.writeSteps();
    if (TOUCHES_ATTEMPT.test(query)) this.writeAttempts();
  }

  private all<T>(query: string, ...params: unknown[]): T[] {
    return this.exec(query, ...params).toArray() as unknown as T[];
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
    this.cachedRun = { ...r, error: null, started_at: null, finished_at: null, retried_as: null };
    this.runWrite = "insert";
  }

  setRetriedAs(runId: string): void {
    this.patchRun({ retried_as: runId });
  }

  setRunStatus(status: RunStatus, at: number, error: ErrorShape | null = null): void {
    const run = this.run()!;
    if (status === "running") this.patchRun({ status, started_at: run.started_at ?? at });
    else if (TERMINAL_RUN_STATUSES.has(status))
      this.patchRun({ status, finished_at: at, error: error ? json.write(error) : null });
    else this.patchRun({ status });
  }

  private patchRun(patch: Partial<RunRow>): void {
    this.cachedRun = { ...this.run()!, ...patch };
    this.runWrite ??= "update";
  }

  private writeRun(): void {
    const r = this.cachedRun;
    if (!this.runWrite || !r) return;
    if (this.runWrite === "insert") {
      this.sql.exec(
        `INSERT INTO run (id, tenant_id, project, blueprint, status, trace_id, error, created_at, started_at, finished_at, deadline_at,
           failure_policy, priority, retry_of, retried_as) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
        r.id,
        r.tenant_id,
        r.project,
        r.blueprint,
        r.status,
        r.trace_id,
        r.error,
        r.created_at,
        r.started_at,
        r.finished_at,
        r.deadline_at,
        r.failure_policy,
        r.priority,
        r.retry_of,
        r.retried_as,
      );
    } else {
      this.sql.exec(
        "UPDATE run SET status = ?, error = ?, started_at = ?, finished_at = ?, retried_as = ?",
        r.status,
        r.error,
        r.started_at,
        r.finished_at,
        r.retried_as,
      );
    }
    this.runWrite = null;
  }

  insertStep(s: NewStep): void {
    this.pendingSteps.push(s);
  }

  insertEdge(depId: string, stepId: string): void {
    this.pendingEdges.push([depId, stepId]);
  }

  /** Inserts collected steps and edges, and writes step patches: before any statement on those tables, and at commit. */
  private writeSteps(): void {
    if (this.pendingSteps.length > 0) {
      insertMany(
        this.sql,
        `INSERT INTO step (id, position, type, pool, input, depends_on, pending_deps, status, max_attempts, initial_delay_ms, max_delay_ms,
           timeout_ms, heartbeat_timeout_ms, depth, spawned_by)`,
        15,
        this.pendingSteps.map((s) => [
          s.id,
          s.position,
          s.type,
          s.pool,
          s.input,
          s.depends_on,
          s.pending_deps,
          "pending",
          s.max_attempts,
          s.initial_delay_ms,
          s.max_delay_ms,
          s.timeout_ms,
          s.heartbeat_timeout_ms,
          s.depth,
          s.spawned_by,
        ]),
      );
      this.pendingSteps = [];
    }
    if (this.pendingEdges.length > 0) {
      insertMany(this.sql, "INSERT INTO edge (dep_id, step_id)", 2, this.pendingEdges);
      this.pendingEdges = [];
    }
    // After the inserts: a step inserted and moved in one transaction is written, then patched.
    for (const [id, patch] of this.stepPatches) {
      const keys = Object.keys(patch) as (keyof typeof patch)[];
      this.sql.exec(
        `UPDATE step SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`,
        ...keys.map((k) => patch[k] ?? null),
        id,
      );
    }
    this.stepPatches.clear();
  }

  stepCount(): number {
    return this.one<{ n: number }>("SELECT COUNT(*) AS n FROM step")!.n;
  }

  existingStepIds(ids: readonly string[]): string[] {
    return this.allIn<{ id: string }>("SELECT id FROM step WHERE id IN (?)", ids).map((r) => r.id);
  }

  /** Runs `query` (whose one `IN (?)` takes the list) in chunks, after what is pending for its tables. */
  private allIn<T>(query: string, values: readonly SqlStorageValue[]): T[] {
    this.writePendingFor(query);
    return execIn<T>(this.sql, query, values);
  }

  /** Makes `stepId` also wait for `more` unfinished dependencies. */
  addPendingDeps(stepId: string, more: number): void {
    this.txnSteps.clear();
    this.exec("UPDATE step SET pending_deps = pending_deps + ? WHERE id = ?", more, stepId);
  }

  attemptStartedAt(stepId: string, attempt: number): number | null {
    const pending = this.pendingAttempts.get(`${attempt} ${stepId}`)?.started_at;
    if (pending !== undefined) return pending;
    return (
      this.one<{ started_at: number | null }>(
        "SELECT started_at FROM attempt WHERE step_id = ? AND attempt = ?",
        stepId,
        attempt,
      )?.started_at ?? null
    );
  }

  /** Recounts unmet dependencies of every pending step (after a retry carried some over). */
  recountPendingDeps(): void {
    this.txnSteps.clear();
    this.exec(
      `UPDATE step SET pending_deps = (
         SELECT COUNT(*) FROM edge JOIN step AS dep ON dep.id = edge.dep_id
         WHERE edge.step_id = step.id AND dep.status != 'succeeded')
       WHERE status = 'pending'`,
    );
  }

  step(id: string): StepRow | null {
    const known = this.txnSteps.get(id);
    if (known) return known;
    const row = this.one<StepRow>("SELECT * FROM step WHERE id = ?", id);
    if (row) this.txnSteps.set(id, row);
    return row;
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
    const rows = this.all<StepRow>(
      "UPDATE step SET pending_deps = pending_deps - 1 WHERE id IN (SELECT step_id FROM edge WHERE dep_id = ?) RETURNING *",
      depId,
    );
    for (const row of rows) this.txnSteps.set(row.id, row); // fresh: the update just returned them
    return rows.filter((s) => s.status === "pending" && s.pending_deps === 0).sort((a, b) => a.position - b.position);
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

  /** How many steps can still change, and which failed: whether and how the run ends, in one read. */
  settlement(): { unfinished: number; failed: string[] } {
    const row = this.one<{ unfinished: number | null; failed: string | null }>(
      `SELECT SUM(status NOT IN ('succeeded','failed','cancelled','skipped')) AS unfinished,
         json_group_array(id) FILTER (WHERE status = 'failed') AS failed FROM (SELECT id, status FROM step ORDER BY position)`,
    )!;
    return { unfinished: row.unfinished ?? 0, failed: json.read<string[]>(row.failed) ?? [] };
  }

  updateStep(id: string, patch: Partial<Omit<StepRow, "id">>): void {
    if (Object.keys(patch).length === 0) return;
    this.stepPatches.set(id, { ...this.stepPatches.get(id), ...patch });
    const known = this.txnSteps.get(id);
    if (known) this.txnSteps.set(id, { ...known, ...patch });
  }

  outputs(ids: readonly string[]): JsonObject {
    // A step's dependency usually succeeded in this very transaction (a continuation): its row is known.
    if (ids.every((id) => this.txnSteps.has(id)))
      return Object.fromEntries(ids.map((id) => [id, json.read<Json>(this.txnSteps.get(id)!.output)]));
    const rows = this.allIn<{ id: string; output: string | null }>("SELECT id, output FROM step WHERE id IN (?)", ids);
    return Object.fromEntries(rows.map((r) => [r.id, json.read<Json>(r.output)]));
  }

  insertAttempt(stepId: string, attempt: number, at: number): void {
    this.writeAttempt(stepId, attempt, { insert: true, status: "dispatched", dispatched_at: at });
  }

  setAttemptUsage(stepId: string, attempt: number, usage: AttemptRecord): void {
    this.writeAttempt(stepId, attempt, { usage: json.write(usage) });
  }

  setAttempt(
    stepId: string,
    attempt: number,
    status: AttemptStatus,
    at: number,
    error: ErrorShape | null = null,
  ): void {
    if (status === "running") this.writeAttempt(stepId, attempt, { status, started_at: at });
    else this.writeAttempt(stepId, attempt, { status, finished_at: at, error: error ? json.write(error) : null });
  }

  /** Collects an attempt's changes: its insert, its begin, its usage and its end are usually one row write. */
  private writeAttempt(
    stepId: string,
    attempt: number,
    patch: Omit<AttemptWrite, "insert"> & { insert?: boolean },
  ): void {
    this.cachedUsage = undefined;
    const k = `${attempt} ${stepId}`;
    const pending = this.pendingAttempts.get(k);
    this.pendingAttempts.set(k, {
      ...pending,
      ...patch,
      insert: (pending?.insert ?? false) || (patch.insert ?? false),
    });
  }

  private writeAttempts(): void {
    if (this.pendingAttempts.size === 0) return;
    const inserts: SqlStorageValue[][] = [];
    const updates: [string, number, AttemptWrite][] = [];
    for (const [k, w] of this.pendingAttempts) {
      const attempt = Number(k.slice(0, k.indexOf(" ")));
      const stepId = k.slice(k.indexOf(" ") + 1);
      if (w.insert)
        inserts.push([
          stepId,
          attempt,
          w.status ?? "dispatched",
          w.dispatched_at ?? 0,
          w.started_at ?? null,
          w.finished_at ?? null,
          w.error ?? null,
          w.usage ?? null,
        ]);
      else updates.push([stepId, attempt, w]);
    }
    this.pendingAttempts.clear();
    insertMany(
      this.sql,
      "INSERT INTO attempt (step_id, attempt, status, dispatched_at, started_at, finished_at, error, usage)",
      8,
      inserts,
    );
    for (const [stepId, attempt, w] of updates) {
      const columns = (["status", "started_at", "finished_at", "error", "usage"] as const).filter(
        (c) => w[c] !== undefined,
      );
      if (columns.length === 0) continue;
      this.sql.exec(
        `UPDATE attempt SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE step_id = ? AND attempt = ?`,
        ...columns.map((c) => w[c] ?? null),
        stepId,
        attempt,
      );
    }
  }

  /** Appends to the event log; the row is written at commit with the transaction's others. */
  appendEvent(type: EventType, at: number, stepId: string | null, data: Record<string, unknown>): number {
    if (ENDING_TYPES.has(type)) this.endingLogged = true;
    const seq = this.lastEventSeq() + 1;
    this.cachedSeq = seq;
    this.pendingEvents.push({ seq, type, step_id: stepId, occurred_at: at, data: json.write(data) });
    return seq;
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

  /** Attempts' totals, artifact bytes and per-model tokens, by pool, in one statement. */
  private readUsage(): RunUsage {
    const pools: Record<string, MeteredUsage> = {};
    const pool = (name: string) => (pools[name] ??= { ...emptyTotals(), models: {} });
    type UsageRow = { part: "attempts" | "bytes" | "model"; pool: string; model: string | null } & Omit<
      MeteredUsage,
      "models"
    >;
    for (const r of this.all<UsageRow>(
      `SELECT 'attempts' AS part, s.pool AS pool, NULL AS model, COUNT(DISTINCT a.step_id) AS steps, COUNT(*) AS attempts,
         COALESCE(SUM(a.finished_at - a.started_at), 0) AS wallMs,
         COALESCE(SUM(json_extract(a.usage, '$.cpuMs')), 0) AS cpuMs,
         COALESCE(SUM(json_extract(a.usage, '$.tokensIn')), 0) AS tokensIn,
         COALESCE(SUM(json_extract(a.usage, '$.tokensOut')), 0) AS tokensOut,
         COALESCE(SUM(json_extract(a.usage, '$.queueOps')), 0) AS queueOps,
         COALESCE(SUM(json_extract(a.usage, '$.objectCalls')), 0) AS objectCalls,
         COALESCE(SUM(json_extract(a.usage, '$.r2Writes')), 0) AS r2Writes, 0 AS artifactBytes
       FROM attempt a JOIN step s ON s.id = a.step_id GROUP BY s.pool
       UNION ALL
       SELECT 'bytes', s.pool, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, SUM(f.size) FROM artifact f
       JOIN step s ON s.id = f.step_id JOIN attempt a ON a.step_id = f.step_id AND a.attempt = f.attempt GROUP BY s.pool
       UNION ALL
       SELECT 'model', s.pool, m.key, 0, 0, 0, 0, SUM(json_extract(m.value, '$.tokensIn')), SUM(json_extract(m.value, '$.tokensOut')), 0, 0, 0, 0
       FROM attempt a JOIN step s ON s.id = a.step_id, json_each(a.usage, '$.models') m WHERE a.usage IS NOT NULL GROUP BY s.pool, m.key`,
    )) {
      const { part, pool: name, model, ...totals } = r;
      if (part === "attempts") Object.assign(pool(name), { ...totals, artifactBytes: pool(name).artifactBytes });
      else if (part === "bytes") pool(name).artifactBytes = totals.artifactBytes;
      else pool(name).models[model!] = { tokensIn: totals.tokensIn, tokensOut: totals.tokensOut };
    }
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

  setTimer(kind: TimerKind, ref: string, dueAt: number, attempt = 0): void {
    this.timers.set(kind, ref, dueAt, attempt);
  }

  /** Sets a timer, or moves an existing one earlier, never later. */
  setTimerNoLater(kind: TimerKind, ref: string, dueAt: number): void {
    this.timers.setNoLater(kind, ref, dueAt);
  }

  timerDueAt(kind: TimerKind, ref: string): number | null {
    return this.ready ? (this.timers.get(kind, ref)?.due_at ?? null) : null;
  }

  hasTimer(kind: TimerKind, ref: string): boolean {
    return this.timerDueAt(kind, ref) !== null;
  }

  clearTimer(kind: TimerKind, ref: string): void {
    this.timers.clear(kind, ref);
  }

  clearStepTimers(stepId: string): void {
    this.timers.clear("lease", stepId);
    this.timers.clear("backoff", stepId);
  }

  dueTimers(now: number): TimerRow[] {
    return this.ready ? this.timers.due(now) : [];
  }

  nextTimer(): number | null {
    return this.ready ? this.timers.next() : null;
  }

  enqueue(kind: OutboxKind, pool: PoolName | null, body: unknown): void {
    this.outboxRows.add(kind, pool, json.write(body));
  }

  outbox(limit = 1000): OutboxRow[] {
    return this.ready ? this.outboxRows.list(limit) : [];
  }

  deleteOutbox(ids: readonly number[]): void {
    this.outboxRows.delete(ids);
  }

  lastOutboxId(): number {
    return this.outboxRows.lastIdWritten();
  }

  /** The first dispatch for `pool` written after outbox row `after`. */
  dispatchSince(pool: PoolName, after: number): OutboxRow | null {
    return this.outboxRows.dispatchSince(pool, after);
  }

  outboxEmpty(): boolean {
    return !this.ready || this.outboxRows.isEmpty();
  }

  artifact(name: string): ArtifactRow | null {
    return this.one<ArtifactRow>("SELECT * FROM artifact WHERE name = ?", name);
  }

  artifacts(): ArtifactRow[] {
    return this.all<ArtifactRow>("SELECT * FROM artifact ORDER BY created_at, name");
  }

  insertArtifact(a: ArtifactRow): void {
    this.cachedUsage = undefined;
    this.exec(
      "INSERT INTO artifact (name, step_id, attempt, r2_key, size, content_type, sha256, created_at) VALUES (?,?,?,?,?,?,?,?)",
      a.name,
      a.step_id,
      a.attempt,
      a.r2_key,
      a.size,
      a.content_type,
      a.sha256,
      a.created_at,
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
