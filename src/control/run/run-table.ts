/**
 * The run's own row, read from SQLite once per object lifetime (nearly every decision reads it)
 * and written once per transaction, at its commit: a new run's status moves three times before
 * its first dispatch.
 */
import { TERMINAL_RUN_STATUSES, type RunStatus } from "../../../schema/vocabulary";
import { must } from "../../lib/must";
import { json } from "../sqlite";
import type { RunRow } from "./rows";
import type { RunSql } from "./store-sql";
import type { ErrorShape } from "../../../schema/errors";

export class RunTable {
  /** undefined until read; null for an object that holds no run. */
  private cached: RunRow | null | undefined;
  /** The row as this transaction left it: to insert, or to update. */
  private pending: "insert" | "update" | null = null;

  constructor(private readonly q: RunSql) {}

  /** A new run's object: its table was just created, empty. */
  startEmpty(): void {
    this.cached = null;
  }

  beginTransaction(): void {
    this.pending = null;
  }

  forget(): void {
    this.cached = undefined;
    this.pending = null;
  }

  get(): RunRow | null {
    if (this.cached === undefined) this.cached = this.q.one<RunRow>("SELECT * FROM run LIMIT 1");
    return this.cached;
  }

  insert(r: Omit<RunRow, "error" | "started_at" | "finished_at" | "retried_as">): void {
    this.cached = { ...r, error: null, started_at: null, finished_at: null, retried_as: null };
    this.pending = "insert";
  }

  setRetriedAs(runId: string): void {
    this.patch({ retried_as: runId });
  }

  /** The run's flow-control keys as they stand (flow-gate.ts). */
  setFlow(flow: string): void {
    this.patch({ flow });
  }

  setLabels(labels: string | null): void {
    this.patch({ labels });
  }

  /** A run made before retention is given the policy it is archived under (archive.ts, `backfillArchive`). */
  setRetention(retention: string): void {
    this.patch({ retention });
  }

  setStatus(status: RunStatus, at: number, error: ErrorShape | null): void {
    const run = must(this.get(), "the run's row");
    if (status === "running") this.patch({ status, started_at: run.started_at ?? at });
    else if (TERMINAL_RUN_STATUSES.has(status))
      this.patch({ status, finished_at: at, error: error ? json.write(error) : null });
    else this.patch({ status });
  }

  private patch(patch: Partial<RunRow>): void {
    this.cached = { ...must(this.get(), "the run's row"), ...patch };
    this.pending ??= "update";
  }

  /** At commit. */
  write(): void {
    const r = this.cached;
    if (!this.pending || !r) return;
    if (this.pending === "insert") {
      this.q.raw.exec(
        `INSERT INTO run (id, tenant_id, project, blueprint, status, trace_id, error, created_at, started_at, finished_at, deadline_at,
           failure_policy, priority, retry_of, retried_as, scanning, retention, tenant_shard, requested_by, origin, labels, flow, collector) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
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
        r.scanning,
        r.retention,
        r.tenant_shard,
        r.requested_by,
        r.origin,
        r.labels,
        r.flow ?? null,
        r.collector,
      );
    } else {
      this.q.raw.exec(
        "UPDATE run SET status = ?, error = ?, started_at = ?, finished_at = ?, retried_as = ?, retention = ?, flow = ?, labels = ?",
        r.status,
        r.error,
        r.started_at,
        r.finished_at,
        r.retried_as,
        r.retention,
        r.flow ?? null,
        r.labels,
      );
    }
    this.pending = null;
  }
}
