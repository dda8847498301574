/** Ordered SQLite migrations with a stored schema version, shared by every Durable Object. */

export type Migration = readonly string[];

/**
 * Applies, in order, every migration past the stored version. Synchronous, so it runs inside
 * the constructor's blockConcurrencyWhile and no request ever sees a half-migrated schema.
 * Returns the version now in force.
 */
export function migrate(sql: SqlStorage, migrations: readonly Migration[]): number {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (; version < migrations.length; version++) {
    for (const statement of migrations[version]!) sql.exec(statement);
    sql.exec("UPDATE _schema SET version = ?", version + 1);
  }
  return version;
}

/** JSON column helpers: SQLite stores text, callers see values. */
export const json = {
  write: (value: unknown): string => JSON.stringify(value),
  read: <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T)),
};
