/**
 * The Run DO's typed row access over its SQLite, one part per table group: the run's row
 * (run-table.ts), steps and edges (step-table.ts), attempts (attempt-table.ts), the event log
 * (event-log.ts), artifacts (artifact-table.ts), usage (run-usage.ts), timers (timers.ts) and the
 * outbox (outbox-table.ts); schema and rows in rows.ts. No decisions here: see engine.ts.
 */
import type { AttemptStatus, EventType, PoolName, RunStatus, StepStatus } from "../../../schema/vocabulary";
import type { JsonObject } from "../../../schema/api";
import type { ErrorShape } from "../../../schema/errors";
import type { RunUsage } from "../../../schema/usage";
import type { AttemptRecord } from "../../analytics/usage";
import type { PoolBacklog } from "../metrics";
import { must } from "../../lib/must";
import { createSchema, json, migrate, type Migration } from "../sqlite";
import { ArtifactTable } from "./artifact-table";
import { AttemptTable } from "./attempt-table";
import { EventLog } from "./event-log";
import { OutboxTable, type OutboxKind, type OutboxRow } from "./outbox-table";
import { RUN_MIGRATIONS, type ArtifactRow, type EndingRow, type EventRow, type RunRow, type StepRow } from "./rows";
import { RunTable } from "./run-table";
import { UsageReader } from "./run-usage";
import { StepTable, type NewStep } from "./step-table";
import { RunSql } from "./store-sql";
import { TimerTable, type TimerKind, type TimerRow } from "./timers";
import { GateTable } from "./gate-table";
import { LAZY_TABLES, LazyTables } from "./lazy-tables";

/**
 * The run's rows, read and written by the engine inside the object's transactions. A decision
 * touches the same rows many times (the run's status moves three times while it is created; a
 * step's attempt is updated by its begin, its usage and its end), so writes are collected and go
 * to SQLite when the transaction commits (`commit`), as few multi-row statements as the parameter
 * limit allows; anything that reads a table first writes what is pending for it (store-sql.ts).
 * What a transaction collected is dropped if it throws (`forgetCaches`), with everything it rolled back.
 */
export class RunStore {
  /** False for an object that has never held a run: it has no tables, and reads find nothing. */
  private ready: boolean;
  private readonly runRow: RunTable;
  private readonly stepRows: StepTable;
  private readonly attemptRows: AttemptTable;
  private readonly eventLog: EventLog;
  private readonly artifactRows: ArtifactTable;
  private readonly usageReader: UsageReader;
  private readonly timers: TimerTable;
  private readonly outboxRows: OutboxTable;
  private readonly lazyTables: LazyTables;
  /** Approval decisions, signals and used decision links: read and written only by runs with gates. */
  readonly gates: GateTable;

  constructor(private readonly sql: SqlStorage) {
    this.ready =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
    this.lazyTables = new LazyTables(sql, RUN_MIGRATIONS);
    const q = new RunSql(
      sql,
      { steps: () => this.stepRows.write(), attempts: () => this.attemptRows.write() },
      this.lazyTables,
    );
    this.runRow = new RunTable(q);
    this.stepRows = new StepTable(q);
    this.usageReader = new UsageReader(q);
    this.attemptRows = new AttemptTable(q, () => this.usageReader.drop());
    this.artifactRows = new ArtifactTable(q, () => this.usageReader.drop());
    this.eventLog = new EventLog(q);
    this.timers = new TimerTable(sql);
    this.outboxRows = new OutboxTable(sql);
    this.gates = new GateTable(sql);
  }

  /** Upgrades an existing schema. A fresh object stays empty, so asking for a missing run writes nothing. */
  open(migrations: readonly Migration[] = RUN_MIGRATIONS): void {
    if (this.ready) migrate(this.sql, migrations);
  }

  /** Creates the schema for a new run, in one script; its tables start empty, so nothing needs reading. */
  initialize(): void {
    if (this.ready) return;
    if (createSchema(this.sql, RUN_MIGRATIONS, LAZY_TABLES)) this.lazyTables.startEmpty();
    else migrate(this.sql, RUN_MIGRATIONS);
    this.ready = true;
    this.runRow.startEmpty();
    this.eventLog.startEmpty();
    this.timers.startEmpty();
    this.outboxRows.startEmpty();
  }

  /** Called first in every transaction. */
  beginTransaction(): void {
    this.runRow.beginTransaction();
  }

  /** Called last in every transaction: writes what it collected. */
  commit(): void {
    this.runRow.write();
    this.stepRows.write();
    this.attemptRows.write();
    this.eventLog.write();
    this.timers.flush();
    this.outboxRows.flush();
    this.stepRows.committed();
  }

  /** After a transaction that threw: what the caches and buffers hold may have been rolled back. */
  forgetCaches(): void {
    this.lazyTables.forget();
    this.runRow.forget();
    this.gates.forget();
    this.stepRows.forget();
    this.attemptRows.forget();
    this.eventLog.forget();
    this.usageReader.drop();
    this.timers.forget();
    this.outboxRows.forget();
  }

  /** After the object's storage was deleted (a purge, an archival): it holds no run from now on. */
  forgetAll(): void {
    this.forgetCaches();
    this.ready = false;
  }

  /** The database's size on disk (bytes): what the run's object is billed for while it is kept. */
  databaseSize(): number {
    return this.sql.databaseSize;
  }

  // ── the run ──────────────────────────────────────────────────────────────────

  run(): RunRow | null {
    return this.ready ? this.runRow.get() : null;
  }

  /** The run's row where the caller knows the run exists (it was created, or it is being decided on). */
  existingRun(): RunRow {
    return must(this.run(), "the run's row");
  }

  insertRun(r: Omit<RunRow, "error" | "started_at" | "finished_at" | "retried_as">): void {
    this.runRow.insert(r);
  }

  setRetriedAs(runId: string): void {
    this.runRow.setRetriedAs(runId);
  }

  setRunRetention(retention: string): void {
    this.runRow.setRetention(retention);
  }

  setRunFlow(flow: string): void {
    this.runRow.setFlow(flow);
  }

  /** A debounced run took a later request's tags and metadata (debounce-gate.ts). */
  setRunLabels(labels: string | null): void {
    this.runRow.setLabels(labels);
  }

  /** A debounced run that has not started drops its graph for a later request's (debounce-gate.ts). */
  removeSteps(): void {
    this.stepRows.removeAll();
  }

  setRunStatus(status: RunStatus, at: number, error: ErrorShape | null = null): void {
    this.runRow.setStatus(status, at, error);
  }

  // ── steps and edges ──────────────────────────────────────────────────────────

  insertStep(s: NewStep): void {
    this.stepRows.insert(s);
  }

  insertEdge(depId: string, stepId: string): void {
    this.stepRows.insertEdge(depId, stepId);
  }

  stepCount(): number {
    return this.stepRows.count();
  }

  existingStepIds(ids: readonly string[]): string[] {
    return this.stepRows.existingIds(ids);
  }

  /** Makes `stepId` also wait for `more` unfinished dependencies. */
  addPendingDeps(stepId: string, more: number): void {
    this.stepRows.addPendingDeps(stepId, more);
  }

  /** Recounts unmet dependencies of every pending step (after a retry carried some over). */
  recountPendingDeps(): void {
    this.stepRows.recountPendingDeps();
  }

  step(id: string): StepRow | null {
    return this.stepRows.get(id);
  }

  steps(): StepRow[] {
    return this.stepRows.all();
  }

  stepsWithStatus(statuses: readonly StepStatus[]): StepRow[] {
    return this.stepRows.withStatus(statuses);
  }

  /** Roots: steps with no dependencies left. */
  readyPending(): StepRow[] {
    return this.stepRows.readyPending();
  }

  /** Marks `depId` as satisfied for its dependents; returns the ones that became ready. */
  releaseDependents(depId: string): StepRow[] {
    return this.stepRows.releaseDependents(depId);
  }

  dependentsOf(depId: string): string[] {
    return this.stepRows.dependentsOf(depId);
  }

  /** Steps in flight by pool: dispatched and waiting, running, or waiting to retry. */
  backlog(): PoolBacklog[] {
    return this.ready ? this.stepRows.backlog() : [];
  }

  /** How many steps can still change, and which failed: whether and how the run ends, in one read. */
  settlement(): { unfinished: number; failed: string[] } {
    return this.stepRows.settlement();
  }

  updateStep(id: string, patch: Partial<Omit<StepRow, "id">>): void {
    this.stepRows.update(id, patch);
  }

  outputs(ids: readonly string[]): JsonObject {
    return this.stepRows.outputs(ids);
  }

  // ── attempts and usage ───────────────────────────────────────────────────────

  insertAttempt(stepId: string, attempt: number, at: number): void {
    this.attemptRows.insert(stepId, attempt, at);
  }

  setAttemptUsage(stepId: string, attempt: number, usage: AttemptRecord): void {
    this.attemptRows.setUsage(stepId, attempt, usage);
  }

  setAttempt(
    stepId: string,
    attempt: number,
    status: AttemptStatus,
    at: number,
    error: ErrorShape | null = null,
  ): void {
    this.attemptRows.set(stepId, attempt, status, at, error);
  }

  attemptStartedAt(stepId: string, attempt: number): number | null {
    return this.attemptRows.startedAt(stepId, attempt);
  }

  /** How long the run's gates have waited (or waited, once decided): not execution, and free. */
  waitingMs(now: number): number {
    return this.ready ? this.stepRows.waitingMs(now) : 0;
  }

  /** What the run used, per pool and in total (run-usage.ts). */
  usage(): RunUsage {
    return this.usageReader.get();
  }

  // ── events ───────────────────────────────────────────────────────────────────

  /** Appends to the event log; the row is written at commit with the transaction's others. */
  appendEvent(type: EventType, at: number, stepId: string | null, data: Record<string, unknown>): number {
    return this.eventLog.append(type, at, stepId, data);
  }

  eventsBySeq(seqs: readonly number[]): EventRow[] {
    return this.eventLog.bySeq(seqs);
  }

  /** Attempt and run endings logged after event `after`, with what analytics needs of each. */
  endingsSince(after: number, limit: number, backlog = false, holdUnder = 0): EndingRow[] {
    return this.ready ? this.eventLog.endingsSince(after, limit, backlog, holdUnder) : [];
  }

  lastEventSeq(): number {
    return this.ready ? this.eventLog.lastSeq() : 0;
  }

  events(after: number, limit: number): EventRow[] {
    return this.eventLog.after(after, limit);
  }

  // ── timers ───────────────────────────────────────────────────────────────────

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
    this.timers.clear("wait", stepId);
  }

  dueTimers(now: number): TimerRow[] {
    return this.ready ? this.timers.due(now) : [];
  }

  nextTimer(): number | null {
    return this.ready ? this.timers.next() : null;
  }

  // ── the outbox ───────────────────────────────────────────────────────────────

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

  // ── artifacts ────────────────────────────────────────────────────────────────

  artifact(name: string): ArtifactRow | null {
    return this.artifactRows.get(name);
  }

  artifacts(): ArtifactRow[] {
    return this.artifactRows.all();
  }

  insertArtifact(a: ArtifactRow): void {
    this.artifactRows.insert(a);
  }
}
