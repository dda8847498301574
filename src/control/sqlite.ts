/** Ordered SQLite migrations with a stored schema version, shared by every Durable Object. */
import { must } from "../lib/must";

export type Migration = readonly string[];

/**
 * Marks a data change that only an object made before its migration needs (a backfill of rows
 * written by older code): a new object, built from the squashed chain, holds no such rows, so
 * `squash` leaves it out while an upgrade replays it.
 */
const UPGRADE_ONLY = "/* upgrade only */ ";
export const upgradeOnly = (statement: string): string => `${UPGRADE_ONLY}${statement}`;

/**
 * A Durable Object's SQL storage, migrated before any request reaches the object (`migrate` runs
 * inside `blockConcurrencyWhile`): the whole constructor of an object that keeps nothing else.
 */
export function migratedSql(ctx: DurableObjectState, migrations: readonly Migration[]): SqlStorage {
  ctx.blockConcurrencyWhile(async () => {
    migrate(ctx.storage.sql, migrations);
  });
  return ctx.storage.sql;
}

/**
 * Applies, in order, every migration past the stored version. Synchronous, so it runs inside
 * the constructor's blockConcurrencyWhile and no request ever sees a half-migrated schema.
 * Returns the version now in force, and whether this call made the schema (the database held none).
 */
export function migrate(
  sql: SqlStorage,
  migrations: readonly Migration[],
  opts: { squash?: boolean } = {},
): { version: number; created: boolean } {
  const exists = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
  if (!exists && opts.squash !== false && createSchema(sql, migrations))
    return { version: migrations.length, created: true };
  if (!exists) sql.exec("CREATE TABLE _schema (version INTEGER NOT NULL); INSERT INTO _schema (version) VALUES (0)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  let version = row?.version ?? 0;
  for (const migration of migrations.slice(version)) {
    for (const statement of migration) sql.exec(statement);
    version++;
    sql.exec("UPDATE _schema SET version = ?", version);
  }
  return { version, created: !exists };
}

/**
 * Builds a new database's final schema, and records its version, in one `exec` of one script: a
 * run's object is new for every run, and fifteen round trips into SQLite (or replaying each ALTER
 * TABLE) were a measurable part of creating a run. False when the chain cannot be squashed.
 */
export function createSchema(
  sql: SqlStorage,
  migrations: readonly Migration[],
  /** Tables left out, made by the object when it first needs them (see run/lazy-tables.ts). */
  omit: readonly string[] = [],
): boolean {
  const squashed = squash(migrations);
  if (!squashed) return false;
  const made = squashed.filter((s) => !omit.includes(CREATE_TABLE.exec(s)?.[1] ?? ""));
  sql.exec(
    [
      ...made,
      "CREATE TABLE _schema (version INTEGER NOT NULL)",
      `INSERT INTO _schema (version) VALUES (${migrations.length})`,
    ].join(";\n"),
  );
  return true;
}

/** A Durable Object's SQLite binds at most 100 parameters per statement. */
export const MAX_PARAMS = 100;

/**
 * Inserts `rows` (each `width` values, in the column order of `head`) in as few statements as the
 * parameter limit allows. `head` is `INSERT INTO t (a, b, …)`; `tail` an optional ON CONFLICT clause.
 */
export function insertMany(
  sql: SqlStorage,
  head: string,
  width: number,
  rows: readonly (readonly SqlStorageValue[])[],
  tail = "",
): void {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / width));
  const tuple = `(${Array.from({ length: width }, () => "?").join(",")})`;
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    sql.exec(`${head} VALUES ${chunk.map(() => tuple).join(",")} ${tail}`, ...chunk.flat());
  }
}

/** Runs `query`, whose one `IN (?)` takes the list, in chunks within the parameter limit; returns every chunk's rows. */
export function execIn<T>(
  sql: SqlStorage,
  query: string,
  values: readonly SqlStorageValue[],
  chunk = MAX_PARAMS - 10,
): T[] {
  const rows: T[] = [];
  for (let i = 0; i < values.length; i += chunk) {
    const part = values.slice(i, i + chunk);
    rows.push(
      ...(sql.exec(query.replace("IN (?)", `IN (${part.map(() => "?").join(",")})`), ...part).toArray() as T[]),
    );
  }
  return rows;
}

const CREATE_TABLE = /^\s*CREATE TABLE (\w+) \(/;
const ADD_COLUMN = /^\s*ALTER TABLE (\w+) ADD COLUMN (.+)$/s;
/** `DROP INDEX [IF EXISTS] name`, and the CREATE INDEX it undoes. */
const DROP_INDEX = /^\s*DROP INDEX (?:IF EXISTS )?(\w+)\s*$/;
const CREATE_INDEX = /^\s*CREATE (?:UNIQUE )?INDEX (\w+) /;
/** A table rebuild's last two steps (`rebuildTable`): the old table dropped, the new one renamed in its place. */
const DROP_TABLE = /^\s*DROP TABLE (\w+)\s*$/;
const RENAME_TABLE = /^\s*ALTER TABLE (\w+) RENAME TO (\w+)\s*$/;

/** Where a table's column list ends: before its first table constraint, or at its closing paren. */
const TABLE_CONSTRAINT = /,\s*(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY) \(/;

/**
 * The statements that build the same schema as applying `migrations` in order, with each
 * `ALTER TABLE … ADD COLUMN` folded into its table's CREATE TABLE, each dropped index and each
 * `upgradeOnly` statement left out; null when a migration does anything else, so that the chain is replayed instead. Pure; a
 * test compares both schemas.
 */
export function squash(migrations: readonly Migration[]): string[] | null {
  // Every run object asks (its schema, its lazy tables' DDL): the answer is computed once an isolate.
  const known = squashed.get(migrations);
  if (known !== undefined) return known;
  const result = squashChain(migrations);
  squashed.set(migrations, result);
  return result;
}

const squashed = new WeakMap<readonly Migration[], string[] | null>();

function squashChain(migrations: readonly Migration[]): string[] | null {
  const out: string[] = [];
  for (const statement of migrations.flat()) {
    if (statement.startsWith(UPGRADE_ONLY)) continue;
    const drop = DROP_INDEX.exec(statement);
    if (drop) {
      const created = out.findIndex((s) => CREATE_INDEX.exec(s)?.[1] === drop[1]);
      if (created < 0) return null;
      out.splice(created, 1);
      continue;
    }
    const rebuilt = squashRebuild(out, statement);
    if (rebuilt === null) return null;
    if (rebuilt) continue;
    const add = ADD_COLUMN.exec(statement);
    if (!add) {
      if (!/^\s*CREATE (TABLE|INDEX|UNIQUE INDEX) /.test(statement)) return null;
      out.push(statement);
      continue;
    }
    const [, table, column] = add;
    const i = out.findIndex((s) => CREATE_TABLE.exec(s)?.[1] === table);
    const create = out[i];
    if (create === undefined || column === undefined) return null;
    const constraint = TABLE_CONSTRAINT.exec(create);
    const at = constraint ? constraint.index : create.lastIndexOf(")");
    out[i] = `${create.slice(0, at)}, ${column.trim()}${create.slice(at)}`;
  }
  return out;
}

/**
 * Folds a table rebuild's DROP TABLE (its CREATE TABLE leaves `out`) or RENAME (its CREATE TABLE
 * takes the new name) into `out`; false for any other statement, null when `out` has no such table.
 */
function squashRebuild(out: string[], statement: string): boolean | null {
  const drop = DROP_TABLE.exec(statement);
  const rename = RENAME_TABLE.exec(statement);
  const table = drop?.[1] ?? rename?.[1];
  if (table === undefined) return false;
  const i = out.findIndex((s) => CREATE_TABLE.exec(s)?.[1] === table);
  if (i < 0) return null;
  if (drop) out.splice(i, 1);
  else out[i] = (out[i] as string).replace(CREATE_TABLE, (m) => m.replace(table, rename?.[2] as string));
  return true;
}

/**
 * The statements that rebuild `table` as `reshape` makes its current CREATE TABLE (the squashed
 * `before`, every column folded in): a new table, the rows copied (an upgrade only: a new object has
 * none), the old one dropped and the new one renamed. What SQLite cannot ALTER in place: WITHOUT
 * ROWID, or a primary key without AUTOINCREMENT.
 */
export function rebuildTable(before: readonly Migration[], table: string, reshape: (ddl: string) => string): string[] {
  const ddl = squash(before)?.find((s) => CREATE_TABLE.exec(s)?.[1] === table);
  if (!ddl) throw new Error(`rebuildTable: the migrations do not squash to a CREATE TABLE ${table}`);
  const next = `${table}_rebuilt`;
  const made = reshape(ddl).replace(CREATE_TABLE, (m) => m.replace(table, next));
  if (made === ddl.replace(CREATE_TABLE, (m) => m.replace(table, next)))
    throw new Error(`rebuildTable: reshaping ${table} changed nothing`);
  return [
    made,
    upgradeOnly(`INSERT INTO ${next} SELECT * FROM ${table}`),
    `DROP TABLE ${table}`,
    `ALTER TABLE ${next} RENAME TO ${table}`,
  ];
}

/** JSON column helpers: SQLite stores text, callers see values. */
export const json = {
  write: (value: unknown): string => JSON.stringify(value),
  read: <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T)),
};

/** Every row of `query`, typed as the caller knows its columns to be. */
export function all<T>(sql: SqlStorage, query: string, ...params: unknown[]): T[] {
  return sql.exec(query, ...params).toArray() as unknown as T[];
}

/** The first row of `query`, or null when there is none (unlike the cursor's `one()`, which throws). */
export function one<T>(sql: SqlStorage, query: string, ...params: unknown[]): T | null {
  return all<T>(sql, query, ...params)[0] ?? null;
}

/** The row of an aggregate query without GROUP BY (COUNT, MAX, SUM…), which SQLite always returns. */
export function aggregate<T>(sql: SqlStorage, query: string, ...params: unknown[]): T {
  return must(one<T>(sql, query, ...params), "the row of an aggregate query");
}
