/**
 * The run's timer rows (lease, backoff, outbox, deadline, a gate's wait), mirrored in memory. Every decision
 * reads timers (is one set, which is due, which is earliest for the alarm) and most write one;
 * the mirror answers the reads, and the writes of a transaction go to SQLite together when it
 * commits (`flush`), a multi-row upsert and one delete instead of a statement per change. The
 * mirror is loaded once per object lifetime and dropped with a rolled-back transaction.
 */
import { insertMany } from "../sqlite";

/**
 * `wait`: an approval's or a signal's timeout (ref: the step). `archive`: the end of a finished
 * run's hot period (ref: "run"), handled by the object itself (archive.ts), not by the engine.
 */
export type TimerKind = "lease" | "backoff" | "outbox" | "deadline" | "wait" | "archive" | "debounce";
export interface TimerRow {
  kind: TimerKind;
  ref: string;
  attempt: number;
  due_at: number;
}

const key = (kind: TimerKind, ref: string) => `${kind} ${ref}`;
const splitKey = (k: string): [TimerKind, string] => [
  k.slice(0, k.indexOf(" ")) as TimerKind,
  k.slice(k.indexOf(" ") + 1),
];

export class TimerTable {
  /** Every timer row, by kind and ref; null until first needed. */
  private rows: Map<string, TimerRow> | null = null;
  /** Changes not yet written: the row to upsert, or null to delete. */
  private readonly dirty = new Map<string, TimerRow | null>();
  /** The keys of the rows SQLite holds (as of the last flush); null with `rows`. */
  private stored: Set<string> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** A new run's object: its table was just created, empty. */
  startEmpty(): void {
    this.rows = new Map();
    this.stored = new Set();
  }

  private all(): Map<string, TimerRow> {
    if (!this.rows) {
      this.rows = new Map();
      for (const r of this.sql.exec<TimerRow & Record<string, SqlStorageValue>>(
        "SELECT kind, ref, attempt, due_at FROM timer",
      )) {
        this.rows.set(key(r.kind, r.ref), { kind: r.kind, ref: r.ref, attempt: r.attempt, due_at: r.due_at });
      }
      this.stored = new Set(this.rows.keys());
    }
    return this.rows;
  }

  get(kind: TimerKind, ref: string): TimerRow | null {
    return this.all().get(key(kind, ref)) ?? null;
  }

  /** Sets a timer, replacing its due time and attempt. */
  set(kind: TimerKind, ref: string, dueAt: number, attempt = 0): void {
    const existing = this.get(kind, ref);
    if (existing?.due_at === dueAt && existing.attempt === attempt) return;
    this.put({ kind, ref, attempt, due_at: dueAt });
  }

  /** Sets a timer, or moves an existing one earlier, never later (its attempt stays). */
  setNoLater(kind: TimerKind, ref: string, dueAt: number): void {
    const existing = this.get(kind, ref);
    if (existing && existing.due_at <= dueAt) return;
    this.put({ kind, ref, attempt: existing?.attempt ?? 0, due_at: dueAt });
  }

  clear(kind: TimerKind, ref: string): void {
    const k = key(kind, ref);
    if (!this.all().delete(k)) return;
    this.dirty.set(k, null);
  }

  /** Timers due by `now`, earliest first. */
  due(now: number): TimerRow[] {
    return [...this.all().values()].filter((t) => t.due_at <= now).sort((a, b) => a.due_at - b.due_at);
  }

  /** The earliest due time: what the object's one alarm is set to. */
  next(): number | null {
    let next: number | null = null;
    for (const t of this.all().values()) if (next === null || t.due_at < next) next = t.due_at;
    return next;
  }

  /**
   * Writes this transaction's changes; called last inside it. A row deleted and a new one of the
   * same kind (a chain's lease, passed from the step that ended to the step begun) are one UPDATE
   * of the row's key: one row written where a delete and an insert wrote two.
   */
  flush(): void {
    if (this.dirty.size === 0) return;
    this.stored ??= new Set();
    const stored = this.stored;
    const upserts: TimerRow[] = [];
    const deletes: [TimerKind, string][] = [];
    for (const [k, row] of this.dirty) {
      if (row) upserts.push(row);
      else deletes.push(splitKey(k));
    }
    this.dirty.clear();
    // Pairs a stored row deleted with a row not stored yet (an insert), by kind.
    const moves: [TimerRow, TimerKind, string][] = [];
    const unmoved: [TimerKind, string][] = [];
    for (const [kind, ref] of deletes) {
      const i = stored.has(key(kind, ref))
        ? upserts.findIndex((t) => t.kind === kind && !stored.has(key(t.kind, t.ref)))
        : -1;
      const moved = i >= 0 ? upserts.splice(i, 1)[0] : undefined;
      if (moved) moves.push([moved, kind, ref]);
      else unmoved.push([kind, ref]);
    }
    for (const [kind, ref] of deletes) stored.delete(key(kind, ref));
    for (const t of [...upserts, ...moves.map(([t]) => t)]) stored.add(key(t.kind, t.ref));
    for (const [moved, kind, ref] of moves) {
      this.sql.exec(
        "UPDATE timer SET ref = ?, attempt = ?, due_at = ? WHERE kind = ? AND ref = ?",
        moved.ref,
        moved.attempt,
        moved.due_at,
        kind,
        ref,
      );
    }
    insertMany(
      this.sql,
      "INSERT INTO timer (kind, ref, attempt, due_at)",
      4,
      upserts.map((t) => [t.kind, t.ref, t.attempt, t.due_at]),
      "ON CONFLICT (kind, ref) DO UPDATE SET attempt = excluded.attempt, due_at = excluded.due_at",
    );
    for (let i = 0; i < unmoved.length; i += 45) {
      const part = unmoved.slice(i, i + 45);
      this.sql.exec(
        `DELETE FROM timer WHERE (kind, ref) IN (VALUES ${part.map(() => "(?, ?)").join(",")})`,
        ...part.flat(),
      );
    }
  }

  /** After a rolled-back transaction: the mirror may hold what never committed. */
  forget(): void {
    this.rows = null;
    this.stored = null;
    this.dirty.clear();
  }

  private put(row: TimerRow): void {
    const k = key(row.kind, row.ref);
    this.all().set(k, row);
    this.dirty.set(k, row);
  }
}
