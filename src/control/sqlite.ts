/** Ordered SQLite migrations with a stored schema version, shared by every Durable Object. */

export type Migration = readonly string[];

/**
 * Applies, in order, every migration past the stored version. Synchronous, so it runs inside
 * the constructor's blockConcurrencyWhile and no request ever sees a half-migrated schema.
 * Returns the version now in force.
 */
export function migrate(sql: SqlStorage, migrations: readonly Migration[], opts: { squash?: boolean } = {}): number {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  // A new database gets the final schema at once: a run's object is new for every run, and
  // replaying each ALTER TABLE there was a measurable part of creating a run.
  const squashed = !row && opts.squash !== false ? squash(migrations) : null;
  if (squashed) {
    for (const statement of squashed) sql.exec(statement);
    sql.exec("UPDATE _schema SET version = ?", migrations.length);
    return migrations.length;
  }
  for (; version < migrations.length; version++) {
    for (const statement of migrations[version]!) sql.exec(statement);
    sql.exec("UPDATE _schema SET version = ?", version + 1);
  }
  return version;
}

const CREATE_TABLE = /^\s*CREATE TABLE (\w+) \(/;
const ADD_COLUMN = /^\s*ALTER TABLE (\w+) ADD COLUMN (.+)$/s;
/** Where a table's column list ends: before its first table constraint, or at its closing paren. */
const TABLE_CONSTRAINT = /,\s*(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY) \(/;

/**
 * The statements that build the same schema as applying `migrations` in order, with each
 * `ALTER TABLE … ADD COLUMN` folded into its table's CREATE TABLE; null when a migration does
 * anything else, so that the chain is replayed instead. Pure; a test compares both schemas.
 */
export function squash(migrations: readonly Migration[]): string[] | null {
  const out: string[] = [];
  for (const statement of migrations.flat()) {
    const add = ADD_COLUMN.exec(statement);
    if (!add) {
      if (!/^\s*CREATE (TABLE|INDEX|UNIQUE INDEX) /.test(statement)) return null;
      out.push(statement);
      continue;
    }
    const i = out.findIndex((s) => CREATE_TABLE.exec(s)?.[1] === add[1]);
    if (i < 0) return null;
    const create = out[i]!;
    const constraint = TABLE_CONSTRAINT.exec(create);
    const at = constraint ? constraint.index : create.lastIndexOf(")");
    out[i] = `${create.slice(0, at)}, ${add[2]!.trim()}${create.slice(at)}`;
  }
  return out;
}

/** JSON column helpers: SQLite stores text, callers see values. */
export const json = {
  write: (value: unknown): string => JSON.stringify(value),
  read: <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T)),
};
