/**
 * The run's attempts, one row per dispatch of a step. An attempt's insert, its begin, its usage
 * and its end usually fall in one transaction (a continuation reports one step and begins the
 * next), so its changes are collected and written as one row write: before any statement that
 * touches the table (RunSql), and at commit.
 */
import type { AttemptStatus } from "../../../schema/vocabulary";
import type { AttemptRecord } from "../../analytics/usage";
import { insertMany, json } from "../sqlite";
import type { RunSql } from "./store-sql";
import type { ErrorShape } from "../../../schema/errors";

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

export class AttemptTable {
  /** By `${attempt} ${stepId}`. */
  private readonly pending = new Map<string, AttemptWrite>();

  constructor(
    private readonly q: RunSql,
    /** Told of every change: what the run used is read from its attempts. */
    private readonly changed: () => void,
  ) {}

  /** After a transaction that threw. */
  forget(): void {
    this.pending.clear();
  }

  insert(stepId: string, attempt: number, at: number): void {
    this.collect(stepId, attempt, { insert: true, status: "dispatched", dispatched_at: at });
  }

  setUsage(stepId: string, attempt: number, usage: AttemptRecord): void {
    this.collect(stepId, attempt, { usage: json.write(usage) });
  }

  set(stepId: string, attempt: number, status: AttemptStatus, at: number, error: ErrorShape | null): void {
    if (status === "running") this.collect(stepId, attempt, { status, started_at: at });
    else this.collect(stepId, attempt, { status, finished_at: at, error: error ? json.write(error) : null });
  }

  startedAt(stepId: string, attempt: number): number | null {
    const pending = this.pending.get(`${attempt} ${stepId}`)?.started_at;
    if (pending !== undefined) return pending;
    return (
      this.q.one<{ started_at: number | null }>(
        "SELECT started_at FROM attempt WHERE step_id = ? AND attempt = ?",
        stepId,
        attempt,
      )?.started_at ?? null
    );
  }

  private collect(stepId: string, attempt: number, patch: Omit<AttemptWrite, "insert"> & { insert?: boolean }): void {
    this.changed();
    const k = `${attempt} ${stepId}`;
    const pending = this.pending.get(k);
    this.pending.set(k, {
      ...pending,
      ...patch,
      insert: (pending?.insert ?? false) || (patch.insert ?? false),
    });
  }

  /** Before any statement that touches the table, and at commit. */
  write(): void {
    if (this.pending.size === 0) return;
    const inserts: SqlStorageValue[][] = [];
    const updates: [string, number, AttemptWrite][] = [];
    for (const [k, w] of this.pending) {
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
    this.pending.clear();
    insertMany(
      this.q.raw,
      "INSERT INTO attempt (step_id, attempt, status, dispatched_at, started_at, finished_at, error, usage)",
      8,
      inserts,
    );
    for (const [stepId, attempt, w] of updates) {
      const columns = (["status", "started_at", "finished_at", "error", "usage"] as const).filter(
        (c) => w[c] !== undefined,
      );
      if (columns.length === 0) continue;
      this.q.raw.exec(
        `UPDATE attempt SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE step_id = ? AND attempt = ?`,
        ...columns.map((c) => w[c] ?? null),
        stepId,
        attempt,
      );
    }
  }
}
