/**
 * A tenant's triggers (an event type, a match, the run to start) and the events it has seen (by
 * id, for 24 h), in the automation object's SQLite; and the pure parts: matching an event and
 * filling a run's input from it.
 */
import {
  type CreateTriggerBody,
  EVENT_DEDUP_MS,
  type EventAccepted,
  type SendEventBody,
  type TriggerView,
} from "../../../schema/automation";
import type { Json, JsonObject } from "../../../schema/api";
import { all, json, type Migration, one } from "../sqlite";
import type { RunBody } from "./schedules";

export const TRIGGER_MIGRATION: Migration = [
  `CREATE TABLE trigger (
    id TEXT PRIMARY KEY, event_type TEXT NOT NULL, match TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  `CREATE INDEX trigger_type ON trigger (event_type)`,
  // The runs an event started, by the sender's id (run_ids null while the first delivery is starting them).
  `CREATE TABLE event_seen (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, trigger_ids TEXT NOT NULL, runs TEXT)`,
  `CREATE INDEX event_seen_at ON event_seen (received_at)`,
];

interface TriggerRow {
  id: string;
  event_type: string;
  match: string;
  body: string;
  created_at: number;
}

/** The value at a dotted path of `value`, or undefined. */
export function at(value: Json | undefined, path: string): Json | undefined {
  let here = value;
  for (const key of path.split(".")) {
    if (here === null || typeof here !== "object" || Array.isArray(here)) return undefined;
    here = (here as JsonObject)[key];
  }
  return here;
}

/** Whether every path of `match` holds the value it names in the event. */
export function matches(match: Record<string, Json>, event: JsonObject): boolean {
  return Object.entries(match).every(([path, want]) => JSON.stringify(at(event, path)) === JSON.stringify(want));
}

/** `input` with each `{"$event": "path"}` replaced by the event's value there (null when absent). */
export function fill(input: Json, event: JsonObject): Json {
  if (Array.isArray(input)) return input.map((v) => fill(v, event));
  if (input === null || typeof input !== "object") return input;
  const keys = Object.keys(input);
  if (keys.length === 1 && keys[0] === "$event" && typeof input.$event === "string")
    return at(event, input.$event) ?? null;
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, fill(v, event)]));
}

export class TriggerBook {
  constructor(private readonly sql: SqlStorage) {}

  count(): number {
    return one<{ n: number }>(this.sql, "SELECT COUNT(*) AS n FROM trigger")?.n ?? 0;
  }

  create(id: string, body: CreateTriggerBody, now: number): TriggerView {
    const { eventType, match, ...run } = body;
    this.sql.exec(
      "INSERT INTO trigger (id, event_type, match, body, created_at) VALUES (?, ?, ?, ?, ?)",
      id,
      eventType,
      json.write(match),
      json.write(run),
      now,
    );
    return this.view({ id, event_type: eventType, match: json.write(match), body: json.write(run), created_at: now });
  }

  page(limit: number, after: string | null): TriggerView[] {
    return all<TriggerRow>(this.sql, "SELECT * FROM trigger WHERE id > ? ORDER BY id LIMIT ?", after ?? "", limit).map(
      (r) => this.view(r),
    );
  }

  delete(id: string): boolean {
    return this.sql.exec("DELETE FROM trigger WHERE id = ?", id).rowsWritten > 0;
  }

  /** The triggers an event starts runs for, with each one's run filled from the event. */
  matching(event: SendEventBody): { id: string; body: RunBody }[] {
    const whole = { id: event.id, type: event.type, data: event.data } as JsonObject;
    return all<TriggerRow>(this.sql, "SELECT * FROM trigger WHERE event_type = ? ORDER BY id", event.type)
      .filter((t) => matches(json.read<Record<string, Json>>(t.match) ?? {}, whole))
      .map((t) => {
        const body = json.read<RunBody>(t.body) as RunBody;
        // The run's input and its steps' inputs may name the event's values.
        const filled = fill({ input: (body.input ?? null) as Json, steps: (body.steps ?? null) as Json }, whole) as {
          input: JsonObject | null;
          steps: RunBody["steps"] | null;
        };
        return {
          id: t.id,
          body: {
            ...body,
            ...(filled.input ? { input: filled.input } : {}),
            ...(filled.steps ? { steps: filled.steps } : {}),
          },
        };
      });
  }

  /** The event as seen within 24 h (forgetting older ones), or null when it is new. */
  seen(
    eventId: string,
    now: number,
  ): { triggerIds: string[]; runs: EventAccepted["runs"] | null; woke: EventAccepted["woke"] | null } | null {
    this.sql.exec("DELETE FROM event_seen WHERE received_at < ?", now - EVENT_DEDUP_MS);
    const row = one<{ trigger_ids: string; runs: string | null; woke: string | null }>(
      this.sql,
      "SELECT trigger_ids, runs, woke FROM event_seen WHERE id = ?",
      eventId,
    );
    return row
      ? {
          triggerIds: json.read<string[]>(row.trigger_ids) ?? [],
          runs: json.read<EventAccepted["runs"]>(row.runs),
          woke: json.read<EventAccepted["woke"]>(row.woke),
        }
      : null;
  }

  markSeen(eventId: string, triggerIds: string[], now: number): void {
    this.sql.exec(
      "INSERT INTO event_seen (id, received_at, trigger_ids) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
      eventId,
      now,
      json.write(triggerIds),
    );
  }

  recordRuns(eventId: string, runs: EventAccepted["runs"], woke: EventAccepted["woke"]): void {
    this.sql.exec("UPDATE event_seen SET runs = ?, woke = ? WHERE id = ?", json.write(runs), json.write(woke), eventId);
  }

  private view(r: TriggerRow): TriggerView {
    const body = json.read<RunBody>(r.body) as RunBody;
    return {
      id: r.id,
      eventType: r.event_type,
      match: json.read<Record<string, Json>>(r.match) ?? {},
      project: body.project,
      blueprint: body.blueprint ?? null,
      createdAt: new Date(r.created_at).toISOString(),
    };
  }
}
