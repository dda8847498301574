/**
 * Statements on the run's tables, for the store's parts. The store holds a transaction's writes
 * until its commit, so each statement here first writes what is pending for the tables it may
 * read: the steps and edges always, the attempts when it touches that table (so an attempt's usage
 * and end stay one write). A read inside a transaction always sees the transaction's own writes.
 */
import { aggregate, all, execIn, one } from "../sqlite";
import type { LazyTables } from "./lazy-tables";

const TOUCHES_ATTEMPT = /\b(?:FROM|JOIN|INTO|UPDATE) attempt\b/;

/** What the store holds unwritten, by table group. */
export interface PendingWrites {
  steps(): void;
  attempts(): void;
}

export class RunSql {
  constructor(
    /** Straight to SQLite: for the commit's own writes, which must not write what is pending first. */
    readonly raw: SqlStorage,
    private readonly pending: PendingWrites,
    /** The edge and artifact tables, made on first write (lazy-tables.ts). */
    readonly tables: LazyTables,
  ) {}

  exec(query: string, ...params: unknown[]): void {
    this.writePendingFor(query);
    this.raw.exec(query, ...params);
  }

  all<T>(query: string, ...params: unknown[]): T[] {
    this.writePendingFor(query);
    return all<T>(this.raw, query, ...params);
  }

  one<T>(query: string, ...params: unknown[]): T | null {
    this.writePendingFor(query);
    return one<T>(this.raw, query, ...params);
  }

  /** The row of an aggregate query without GROUP BY, which SQLite always returns. */
  aggregate<T>(query: string, ...params: unknown[]): T {
    this.writePendingFor(query);
    return aggregate<T>(this.raw, query, ...params);
  }

  /** Runs `query` (whose one `IN (?)` takes the list) in chunks. */
  allIn<T>(query: string, values: readonly SqlStorageValue[]): T[] {
    this.writePendingFor(query);
    return execIn<T>(this.raw, query, values);
  }

  private writePendingFor(query: string): void {
    this.pending.steps();
    if (TOUCHES_ATTEMPT.test(query)) this.pending.attempts();
  }
}
