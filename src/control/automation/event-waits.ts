/**
 * The tenant's index of signal steps waiting for an event (a signal step's `event: { type,
 * match }`), in the automation object's SQLite: registered by the run when the step starts
 * waiting and removed when it ends (both through the run's outbox), so `POST /v1/events` finds
 * the steps to wake by the event's type without asking any run. A row past its step's timeout,
 * or whose run answers that nothing waits, is dropped as it is met.
 */
import type { EventWatchOp } from "../../../schema/automation";
import type { Json, JsonObject } from "../../../schema/api";
import { all, json, type Migration } from "../sqlite";
import { at, matches } from "./triggers";

export const EVENT_WAIT_MIGRATION: Migration = [
  `CREATE TABLE event_wait (
    run_id TEXT NOT NULL, step_id TEXT NOT NULL, name TEXT NOT NULL, event_type TEXT NOT NULL,
    match TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (run_id, step_id))`,
  `CREATE INDEX event_wait_type ON event_wait (event_type, expires_at)`,
  // The waiting steps an event completed, answered again to a repeat of its id.
  `ALTER TABLE event_seen ADD COLUMN woke TEXT`,
];

export interface EventWait {
  runId: string;
  stepId: string;
  name: string;
}

/**
 * A signal step's match with each `{"$input": "path"}` replaced by the run's input there (null
 * when absent), so the index holds only plain values. Called when the run is resolved.
 */
export function fillFromInput(match: Record<string, Json>, input: JsonObject): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(match).map(([path, want]) => {
      if (want !== null && typeof want === "object" && !Array.isArray(want) && typeof want.$input === "string")
        return [path, at(input, want.$input) ?? null];
      return [path, want];
    }),
  );
}

export class EventWaitBook {
  constructor(private readonly sql: SqlStorage) {}

  apply(ops: readonly EventWatchOp[]): void {
    for (const op of ops) {
      if (op.op === "unwatch") this.remove(op.runId, op.stepId);
      else
        this.sql.exec(
          `INSERT INTO event_wait (run_id, step_id, name, event_type, match, expires_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, step_id) DO UPDATE SET name = excluded.name, event_type = excluded.event_type,
             match = excluded.match, expires_at = excluded.expires_at`,
          op.runId,
          op.stepId,
          op.name,
          op.eventType,
          json.write(op.match),
          op.expiresAt,
        );
    }
  }

  remove(runId: string, stepId: string): void {
    this.sql.exec("DELETE FROM event_wait WHERE run_id = ? AND step_id = ?", runId, stepId);
  }

  /** The waiting steps an event matches (those past their timeout are forgotten first). */
  matching(event: { id: string; type: string; data: JsonObject }, now: number): EventWait[] {
    this.sql.exec("DELETE FROM event_wait WHERE expires_at <= ?", now);
    const whole = { id: event.id, type: event.type, data: event.data } as JsonObject;
    return all<{ run_id: string; step_id: string; name: string; match: string }>(
      this.sql,
      "SELECT run_id, step_id, name, match FROM event_wait WHERE event_type = ? ORDER BY run_id, step_id",
      event.type,
    )
      .filter((w) => matches(json.read<Record<string, Json>>(w.match) ?? {}, whole))
      .map((w) => ({ runId: w.run_id, stepId: w.step_id, name: w.name }));
  }

  count(): number {
    return all<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM event_wait")[0]?.n ?? 0;
  }
}
