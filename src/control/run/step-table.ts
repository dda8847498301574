/**
 * The run's steps and the edges between them. Inserts and patches are collected and written
 * before any other statement on these tables (RunSql) and at commit; rows read are kept (across
 * transactions, bounded), each replaced, never mutated, when patched, so a row the engine holds
 * stays what it read. A dispatch and the begin of a continuation, or a step's usage and its end,
 * are one write.
 */
import type { StepStatus } from "../../../schema/vocabulary";
import type { Json, JsonObject } from "../../../schema/api";
import { insertMany, json } from "../sqlite";
import type { PoolBacklog } from "../metrics";
import type { StepRow } from "./rows";
import type { RunSql } from "./store-sql";

/** Columns of a step row as inserted (the rest start at their defaults). */
export type NewStep = Pick<
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
  | "worker"
  | "flow"
>;

/** Step rows kept between transactions; a run with more in play reads them again. */
const MAX_KEPT_ROWS = 64;

export class StepTable {
  private pendingSteps: NewStep[] = [];
  private pendingEdges: [string, string][] = [];
  /** Step rows as this transaction knows them (read, or returned by an update). */
  private readonly known = new Map<string, StepRow>();
  private readonly patches = new Map<string, Partial<StepRow>>();

  constructor(private readonly q: RunSql) {}

  /**
   * After a commit: the rows read stay known into the next transactions (a report finds the step
   * its begin read, with no `SELECT *` of its input and output), up to a bound on their memory.
   * Every write to a step goes through this table (patched here, or `known` cleared by the bulk
   * UPDATEs), and a rolled-back transaction drops them all (`forget`), so a kept row is the row
   * as committed.
   */
  committed(): void {
    if (this.known.size > MAX_KEPT_ROWS) this.known.clear();
  }

  /** After a transaction that threw. */
  forget(): void {
    this.pendingSteps = [];
    this.pendingEdges = [];
    this.known.clear();
    this.patches.clear();
  }

  insert(s: NewStep): void {
    this.pendingSteps.push(s);
  }

  insertEdge(depId: string, stepId: string): void {
    this.pendingEdges.push([depId, stepId]);
  }

  /** Inserts collected steps and edges, and writes step patches: before any statement on those tables, and at commit. */
  write(): void {
    if (this.pendingSteps.length > 0) {
      insertMany(
        this.q.raw,
        `INSERT INTO step (id, position, type, pool, input, depends_on, pending_deps, status, max_attempts, initial_delay_ms, max_delay_ms,
           timeout_ms, heartbeat_timeout_ms, depth, spawned_by, worker, flow)`,
        17,
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
          s.worker,
          s.flow,
        ]),
      );
      this.pendingSteps = [];
    }
    if (this.pendingEdges.length > 0) {
      this.q.tables.make("edge");
      insertMany(this.q.raw, "INSERT INTO edge (dep_id, step_id)", 2, this.pendingEdges);
      this.pendingEdges = [];
    }
    // After the inserts: a step inserted and moved in one transaction is written, then patched.
    for (const [id, patch] of this.patches) {
      const keys = Object.keys(patch) as (keyof typeof patch)[];
      this.q.raw.exec(
        `UPDATE step SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`,
        ...keys.map((k) => patch[k] ?? null),
        id,
      );
    }
    this.patches.clear();
  }

  /** Forgets every step and edge (a debounced run not started takes a later request's graph). */
  removeAll(): void {
    this.pendingSteps = [];
    this.pendingEdges = [];
    this.patches.clear();
    this.known.clear();
    this.q.exec("DELETE FROM step");
    if (this.hasEdges()) this.q.exec("DELETE FROM edge");
  }

  count(): number {
    return this.q.aggregate<{ n: number }>("SELECT COUNT(*) AS n FROM step").n;
  }

  existingIds(ids: readonly string[]): string[] {
    return this.q.allIn<{ id: string }>("SELECT id FROM step WHERE id IN (?)", ids).map((r) => r.id);
  }

  /** Makes `stepId` also wait for `more` unfinished dependencies. */
  addPendingDeps(stepId: string, more: number): void {
    this.known.clear();
    this.q.exec("UPDATE step SET pending_deps = pending_deps + ? WHERE id = ?", more, stepId);
  }

  /** Recounts unmet dependencies of every pending step (after a retry carried some over). */
  recountPendingDeps(): void {
    this.known.clear();
    if (!this.hasEdges()) {
      this.q.exec("UPDATE step SET pending_deps = 0 WHERE status = 'pending'"); // no step depends on another
      return;
    }
    this.q.exec(
      `UPDATE step SET pending_deps = (
         SELECT COUNT(*) FROM edge JOIN step AS dep ON dep.id = edge.dep_id
         WHERE edge.step_id = step.id AND dep.status != 'succeeded')
       WHERE status = 'pending'`,
    );
  }

  get(id: string): StepRow | null {
    const known = this.known.get(id);
    if (known) return known;
    const row = this.q.one<StepRow>("SELECT * FROM step WHERE id = ?", id);
    if (row) this.known.set(id, row);
    return row;
  }

  all(): StepRow[] {
    return this.q.all<StepRow>("SELECT * FROM step ORDER BY position");
  }

  withStatus(statuses: readonly StepStatus[]): StepRow[] {
    const marks = statuses.map(() => "?").join(",");
    return this.q.all<StepRow>(`SELECT * FROM step WHERE status IN (${marks}) ORDER BY position`, ...statuses);
  }

  /** Roots: steps with no dependencies left. */
  readyPending(): StepRow[] {
    return this.q.all<StepRow>("SELECT * FROM step WHERE status = 'pending' AND pending_deps = 0 ORDER BY position");
  }

  /**
   * Marks `depId` as satisfied for its dependents; returns the ones that became ready. The count
   * is a patch, not an UPDATE of its own: a dependent that became ready is dispatched or begun in
   * the same transaction, and the two are one row written, not two.
   */
  releaseDependents(depId: string): StepRow[] {
    if (!this.hasEdges()) return [];
    const rows = this.q.all<StepRow>(
      "SELECT * FROM step WHERE id IN (SELECT step_id FROM edge WHERE dep_id = ?)",
      depId,
    );
    const released = rows.map((row) => {
      const next = { ...row, pending_deps: row.pending_deps - 1 };
      this.known.set(row.id, next); // fresh: read after every pending write, then patched
      this.patches.set(row.id, { ...this.patches.get(row.id), pending_deps: next.pending_deps });
      return next;
    });
    return released
      .filter((s) => s.status === "pending" && s.pending_deps === 0)
      .sort((a, b) => a.position - b.position);
  }

  /** Whether any edge exists or is about to be written (the table is made with the first: lazy-tables.ts). */
  private hasEdges(): boolean {
    return this.pendingEdges.length > 0 || this.q.tables.has("edge");
  }

  dependentsOf(depId: string): string[] {
    if (!this.hasEdges()) return [];
    return this.q.all<{ step_id: string }>("SELECT step_id FROM edge WHERE dep_id = ?", depId).map((r) => r.step_id);
  }

  /** Steps in flight by pool: dispatched and waiting, running, or waiting to retry. */
  backlog(): PoolBacklog[] {
    return this.q.all<PoolBacklog>(
      `SELECT pool, SUM(status = 'queued') AS queued, SUM(status = 'running') AS running, SUM(status = 'retrying') AS retrying
       FROM step WHERE status IN ('queued', 'running', 'retrying') GROUP BY pool ORDER BY pool`,
    );
  }

  /** Time the control pool's steps waited: started (began waiting) to finished, or to now. */
  waitingMs(now: number): number {
    return (
      this.q.one<{ ms: number | null }>(
        `SELECT SUM(COALESCE(finished_at, ?) - started_at) AS ms FROM step WHERE pool = 'control' AND started_at IS NOT NULL`,
        now,
      )?.ms ?? 0
    );
  }

  /** How many steps can still change, and which failed: whether and how the run ends, in one read. */
  settlement(): { unfinished: number; failed: string[] } {
    const row = this.q.aggregate<{ unfinished: number | null; failed: string | null }>(
      `SELECT SUM(status NOT IN ('succeeded','failed','cancelled','skipped')) AS unfinished,
         json_group_array(id) FILTER (WHERE status = 'failed') AS failed FROM (SELECT id, status FROM step ORDER BY position)`,
    );
    return { unfinished: row.unfinished ?? 0, failed: json.read<string[]>(row.failed) ?? [] };
  }

  update(id: string, patch: Partial<Omit<StepRow, "id">>): void {
    if (Object.keys(patch).length === 0) return;
    this.patches.set(id, { ...this.patches.get(id), ...patch });
    const known = this.known.get(id);
    if (known) this.known.set(id, { ...known, ...patch });
  }

  outputs(ids: readonly string[]): JsonObject {
    // A step's dependency usually succeeded in this very transaction (a continuation): its row is known.
    const known: StepRow[] = [];
    for (const id of ids) {
      const row = this.known.get(id);
      if (!row) break;
      known.push(row);
    }
    if (known.length === ids.length) return Object.fromEntries(known.map((r) => [r.id, json.read<Json>(r.output)]));
    const rows = this.q.allIn<{ id: string; output: string | null }>(
      "SELECT id, output FROM step WHERE id IN (?)",
      ids,
    );
    return Object.fromEntries(rows.map((r) => [r.id, json.read<Json>(r.output)]));
  }
}
