/**
 * The run's outbox rows, mirrored in memory: what a transaction intends to send (dispatches,
 * the tenant's status, webhook events), written in that transaction and deleted once sent. The
 * sender, the continuation and the flush timer read the mirror; a transaction's inserts and
 * deletes reach SQLite together when it commits (`flush`). Ids come from a counter that only
 * grows for the object's lifetime (seeded from the rows left), so an id is never reused while a
 * send in flight or the sender's memory of rows sent (in memory too) still names a row deleted
 * moments ago. Dropped with a rolled-back transaction and loaded again.
 */
import type { PoolName } from "../../../schema/vocabulary";
import { execIn, insertMany } from "../sqlite";

export type OutboxKind = "dispatch" | "tenant" | "webhook" | "telemetry" | "automation" | "flow";
export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  pool: PoolName | null;
  body: string;
}

export class OutboxTable {
  /** Rows not yet deleted, in id order; null until first needed. */
  private rows: OutboxRow[] | null = null;
  private lastId = 0;
  /** This transaction's inserts, by id, and its deletes of rows written before it. */
  private readonly inserted = new Map<number, OutboxRow>();
  private deleted: number[] = [];

  constructor(private readonly sql: SqlStorage) {}

  /** A new run's object: its table was just created, empty. */
  startEmpty(): void {
    this.rows = [];
  }

  private all(): OutboxRow[] {
    if (!this.rows) {
      this.rows = this.sql
        .exec<OutboxRow & Record<string, SqlStorageValue>>("SELECT id, kind, pool, body FROM outbox ORDER BY id")
        .toArray();
      this.lastId = Math.max(this.lastId, this.rows.at(-1)?.id ?? 0);
    }
    return this.rows;
  }

  add(kind: OutboxKind, pool: PoolName | null, body: string): void {
    const rows = this.all();
    const row = { id: ++this.lastId, kind, pool, body };
    rows.push(row);
    this.inserted.set(row.id, row);
  }

  list(limit: number): OutboxRow[] {
    return this.all().slice(0, limit);
  }

  isEmpty(): boolean {
    return this.all().length === 0;
  }

  lastIdWritten(): number {
    this.all();
    return this.lastId;
  }

  /** The first dispatch for `pool` written after row `after`. */
  dispatchSince(pool: PoolName, after: number): OutboxRow | null {
    return this.all().find((r) => r.id > after && r.kind === "dispatch" && r.pool === pool) ?? null;
  }

  delete(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const gone = new Set(ids);
    this.rows = this.all().filter((r) => !gone.has(r.id));
    // A row inserted and deleted in the same transaction (a continuation's dispatch) never reaches SQLite.
    for (const id of gone) if (!this.inserted.delete(id)) this.deleted.push(id);
  }

  /** Writes this transaction's changes; called last inside it. */
  flush(): void {
    if (this.inserted.size > 0)
      insertMany(
        this.sql,
        "INSERT INTO outbox (id, kind, pool, body)",
        4,
        [...this.inserted.values()].map((r) => [r.id, r.kind, r.pool, r.body]),
      );
    if (this.deleted.length > 0) execIn(this.sql, "DELETE FROM outbox WHERE id IN (?)", this.deleted);
    this.inserted.clear();
    this.deleted = [];
  }

  /** After a rolled-back transaction: the mirror may hold what never committed. */
  forget(): void {
    this.rows = null;
    this.inserted.clear();
    this.deleted = [];
  }
}
