/**
 * A tenant's schedules, their fires and their timers, in the automation object's SQLite. The
 * book stores and shows; the object (object.ts) decides when to fire and starts the runs. Each
 * schedule's next fire is one `timer` row, and the object's one alarm is the earliest row.
 */
import {
  type CreateScheduleBody,
  type FireOutcome,
  type FireView,
  LAST_FIRES_SHOWN,
  NEXT_FIRES_SHOWN,
  type OverlapPolicy,
  type ScheduleSpec,
  type ScheduleView,
  type UpdateScheduleBody,
} from "../../../schema/automation";
import type { CreateRunBody } from "../../../schema/api";
import { all, json, type Migration, one } from "../sqlite";
import { nextFire, nextFires } from "./spec";

export const SCHEDULE_MIGRATION: Migration = [
  // body: the run each fire starts (a CreateRunBody without callback). anchor: when `every`
  // counts from. next_fire: the fire time due next (null: none left). last_run: the run the
  // last fire started (overlap asks it). buffered: a fire time kept by overlap buffer-one.
  `CREATE TABLE schedule (
      id TEXT PRIMARY KEY, name TEXT, body TEXT NOT NULL, spec TEXT NOT NULL, overlap TEXT NOT NULL,
      catch_up TEXT NOT NULL, paused INTEGER NOT NULL, anchor INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      next_fire INTEGER, last_run TEXT, buffered INTEGER)`,
  `CREATE TABLE fire (
      schedule_id TEXT NOT NULL, fire_time INTEGER NOT NULL, fired_at INTEGER NOT NULL,
      outcome TEXT NOT NULL, run_id TEXT, reason TEXT, PRIMARY KEY (schedule_id, fire_time))`,
  `CREATE TABLE timer (kind TEXT NOT NULL, ref TEXT NOT NULL, due_at INTEGER NOT NULL, PRIMARY KEY (kind, ref))`,
  `CREATE INDEX timer_due ON timer (due_at)`,
];

/** Fires kept per schedule (GET shows the last 10; the rest is history for nobody). */
const KEEP_FIRES = 50;

export interface ScheduleRow {
  id: string;
  name: string | null;
  body: string;
  spec: string;
  overlap: OverlapPolicy;
  catch_up: string;
  paused: number;
  anchor: number;
  created_at: number;
  updated_at: number;
  next_fire: number | null;
  last_run: string | null;
  buffered: number | null;
}

export type RunBody = Omit<CreateRunBody, "callback">;

const iso = (ms: number) => new Date(ms).toISOString();

export class ScheduleBook {
  constructor(private readonly sql: SqlStorage) {}

  count(): number {
    return one<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM schedule")?.n ?? 0;
  }

  get(id: string): ScheduleRow | null {
    return one<ScheduleRow>(this.sql, "SELECT * FROM schedule WHERE id = ?", id);
  }

  /** A page of schedules by id (ids sort by creation time). */
  page(limit: number, after: string | null): ScheduleRow[] {
    return all<ScheduleRow>(this.sql, "SELECT * FROM schedule WHERE id > ? ORDER BY id LIMIT ?", after ?? "", limit);
  }

  create(id: string, body: CreateScheduleBody, now: number): ScheduleRow {
    const { name, spec, overlap, catchUp, paused, ...run } = body;
    const next = nextFire(spec, now, now);
    this.sql.exec(
      `INSERT INTO schedule (id, name, body, spec, overlap, catch_up, paused, anchor, created_at, updated_at, next_fire)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      name ?? null,
      json.write(run),
      json.write(spec),
      overlap,
      catchUp,
      paused ? 1 : 0,
      now,
      now,
      now,
      next,
    );
    const row = this.get(id) as ScheduleRow;
    this.arm(row);
    return row;
  }

  /** Applies a patch; a new spec counts from now (its anchor) and drops a buffered fire. */
  update(row: ScheduleRow, patch: UpdateScheduleBody, now: number): ScheduleRow {
    const spec = patch.spec ?? (json.read<ScheduleSpec>(row.spec) as ScheduleSpec);
    const anchor = patch.spec ? now : row.anchor;
    const body = patch.input ? { ...(json.read<RunBody>(row.body) as RunBody), input: patch.input } : null;
    const paused = patch.paused ?? row.paused === 1;
    // Resumed or respecified: the next fire is the next one from now (paused time is not made up).
    const next = patch.spec || (row.paused === 1 && !paused) ? nextFire(spec, anchor, now) : row.next_fire;
    this.sql.exec(
      `UPDATE schedule SET name = ?, body = ?, spec = ?, overlap = ?, catch_up = ?, paused = ?, anchor = ?,
         updated_at = ?, next_fire = ?, buffered = ? WHERE id = ?`,
      patch.name ?? row.name,
      body ? json.write(body) : row.body,
      json.write(spec),
      patch.overlap ?? row.overlap,
      patch.catchUp ?? row.catch_up,
      paused ? 1 : 0,
      anchor,
      now,
      next,
      patch.spec ? null : row.buffered,
      row.id,
    );
    const updated = this.get(row.id) as ScheduleRow;
    this.arm(updated);
    return updated;
  }

  delete(id: string): boolean {
    const deleted = this.sql.exec("DELETE FROM schedule WHERE id = ?", id).rowsWritten > 0;
    this.sql.exec("DELETE FROM fire WHERE schedule_id = ?", id);
    this.sql.exec("DELETE FROM timer WHERE kind = 'fire' AND ref = ?", id);
    return deleted;
  }

  /** Records what became of a fire time (a retried fire keeps its first record's run). */
  recordFire(
    id: string,
    fireTime: number,
    outcome: FireOutcome,
    runId: string | null,
    reason: string | null,
    now: number,
  ) {
    this.sql.exec(
      `INSERT INTO fire (schedule_id, fire_time, fired_at, outcome, run_id, reason) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (schedule_id, fire_time) DO UPDATE SET outcome = excluded.outcome, run_id = excluded.run_id,
         reason = excluded.reason`,
      id,
      fireTime,
      now,
      outcome,
      runId,
      reason,
    );
    this.sql.exec(
      `DELETE FROM fire WHERE schedule_id = ? AND fire_time <
         (SELECT fire_time FROM fire WHERE schedule_id = ? ORDER BY fire_time DESC LIMIT 1 OFFSET ?)`,
      id,
      id,
      KEEP_FIRES - 1,
    );
  }

  /** Moves a schedule on: its next fire, the run it started, a buffered fire; then its timer. */
  advance(id: string, patch: Partial<Pick<ScheduleRow, "next_fire" | "last_run" | "buffered">>): void {
    const row = this.get(id);
    if (!row) return;
    const next = { ...row, ...patch };
    this.sql.exec(
      "UPDATE schedule SET next_fire = ?, last_run = ?, buffered = ? WHERE id = ?",
      next.next_fire,
      next.last_run,
      next.buffered,
      id,
    );
    this.arm(next);
  }

  /** The schedule's timer row: at its next fire, sooner for a buffered fire to check on; none while paused. */
  arm(row: ScheduleRow, retryAt?: number): void {
    const due =
      row.paused === 1
        ? null
        : (retryAt ??
          Math.min(
            row.next_fire ?? Number.POSITIVE_INFINITY,
            row.buffered !== null ? Date.now() + BUFFER_POLL_MS : Number.POSITIVE_INFINITY,
          ));
    if (due === null || !Number.isFinite(due))
      this.sql.exec("DELETE FROM timer WHERE kind = 'fire' AND ref = ?", row.id);
    else
      this.sql.exec(
        "INSERT INTO timer (kind, ref, due_at) VALUES ('fire', ?, ?) ON CONFLICT (kind, ref) DO UPDATE SET due_at = excluded.due_at",
        row.id,
        due,
      );
  }

  /** Schedules whose timer is due, earliest first. */
  due(now: number, limit: number): string[] {
    return all<{ ref: string }>(
      this.sql,
      "SELECT ref FROM timer WHERE kind = 'fire' AND due_at <= ? ORDER BY due_at LIMIT ?",
      now,
      limit,
    ).map((r) => r.ref);
  }

  /** The earliest timer: what the object's one alarm is set to. */
  nextDue(): number | null {
    return one<{ at: number | null }>(this.sql, "SELECT MIN(due_at) AS at FROM timer")?.at ?? null;
  }

  view(row: ScheduleRow, withFires: boolean, now: number): ScheduleView {
    const spec = json.read<ScheduleSpec>(row.spec) as ScheduleSpec;
    const body = json.read<RunBody>(row.body) as RunBody;
    const upcoming =
      row.paused === 1 || row.next_fire === null
        ? []
        : [row.next_fire, ...nextFires(spec, row.anchor, Math.max(row.next_fire, now), NEXT_FIRES_SHOWN - 1)];
    return {
      id: row.id,
      name: row.name,
      project: body.project,
      blueprint: body.blueprint ?? null,
      spec,
      overlap: row.overlap,
      catchUp: row.catch_up,
      paused: row.paused === 1,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      nextFireTimes: upcoming.slice(0, NEXT_FIRES_SHOWN).map(iso),
      buffered: row.buffered === null ? null : iso(row.buffered),
      lastFires: withFires ? this.fires(row.id, LAST_FIRES_SHOWN) : [],
    };
  }

  fires(id: string, limit: number): FireView[] {
    return all<{
      fire_time: number;
      fired_at: number;
      outcome: FireOutcome;
      run_id: string | null;
      reason: string | null;
    }>(
      this.sql,
      "SELECT fire_time, fired_at, outcome, run_id, reason FROM fire WHERE schedule_id = ? ORDER BY fire_time DESC LIMIT ?",
      id,
      limit,
    ).map((f) => ({
      fireTime: iso(f.fire_time),
      firedAt: iso(f.fired_at),
      outcome: f.outcome,
      runId: f.run_id,
      reason: f.reason,
    }));
  }
}

/** How often a buffered fire asks whether the run it waits for has ended. */
export const BUFFER_POLL_MS = 5_000;
