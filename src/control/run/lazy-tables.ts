/**
 * Tables a run makes on its first write to them, so a run that never needs one holds none: the
 * step graph's edges (only runs with dependencies) and the artifact manifest (only runs whose
 * steps write artifacts). Every table costs pages of storage even empty (a table and its primary
 * key index: 8 KiB), billed for as long as the run is kept hot. Objects made before this keep
 * theirs from the migrations; reads of a table not made find nothing.
 */
import { squash, type Migration } from "../sqlite";

export type LazyTable = "edge" | "artifact";
export const LAZY_TABLES: readonly LazyTable[] = ["edge", "artifact"];

const CREATES = /^\s*CREATE TABLE (\w+) \(/;

/** The statement that makes `table` as the squashed migrations define it (every column folded in). */
export function lazyTableDdl(migrations: readonly Migration[], table: LazyTable): string {
  const ddl = (squash(migrations) ?? []).find((s) => CREATES.exec(s)?.[1] === table);
  if (!ddl) throw new Error(`the run's migrations do not squash to a CREATE TABLE ${table}`);
  return ddl;
}

export class LazyTables {
  /** The lazy tables the database has; null until asked, once per object lifetime. */
  private made: Set<LazyTable> | null = null;
  private readonly ddl: Record<LazyTable, string>;

  constructor(
    private readonly sql: SqlStorage,
    migrations: readonly Migration[],
  ) {
    this.ddl = { edge: lazyTableDdl(migrations, "edge"), artifact: lazyTableDdl(migrations, "artifact") };
  }

  /** A new run's object: its schema was just made, without them. */
  startEmpty(): void {
    this.made = new Set();
  }

  /** After a rolled-back transaction (which may have made one and unmade it) or a deleted storage. */
  forget(): void {
    this.made = null;
  }

  has(table: LazyTable): boolean {
    this.made ??= new Set(
      this.sql
        .exec<{ name: LazyTable }>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (${LAZY_TABLES.map((t) => `'${t}'`).join(",")})`,
        )
        .toArray()
        .map((r) => r.name),
    );
    return this.made.has(table);
  }

  /** Makes the table unless it exists; in the caller's transaction, so a rollback unmakes it too. */
  make(table: LazyTable): void {
    if (this.has(table)) return;
    this.sql.exec(this.ddl[table]);
    this.made?.add(table);
  }
}
