import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { migrate, squash, type Migration } from "../../src/control/sqlite";
import { RUN_MIGRATIONS } from "../../src/control/run/rows";
import { TENANT_MIGRATIONS } from "../../src/control/tenant/object";

/** Every table's columns and every index, as SQLite reports them. */
function describeSchema(sql: SqlStorage) {
  const tables = sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name",
    )
    .toArray();
  return tables.map(({ name }) => ({
    name,
    columns: sql.exec(`PRAGMA table_info(${name})`).toArray(),
    indexes: sql
      .exec<{ name: string; unique: number }>(`PRAGMA index_list(${name})`)
      .toArray()
      .map((i) => ({ name: i.name, unique: i.unique, columns: sql.exec(`PRAGMA index_info(${i.name})`).toArray() }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  }));
}

async function schemaOf(objectName: string, migrations: readonly Migration[], squashed: boolean) {
  // A run object is empty until a run is created in it: a blank SQLite database to migrate.
  return runInDurableObject(env.RUN.getByName(objectName), (_instance, state) => {
    expect(migrate(state.storage.sql, migrations, { squash: squashed })).toBe(migrations.length);
    return describeSchema(state.storage.sql);
  });
}

describe("squashed schemas for new objects", () => {
  it.each([
    ["run", RUN_MIGRATIONS],
    ["tenant", TENANT_MIGRATIONS],
  ] as const)("build the same %s schema as replaying every migration", async (name, migrations) => {
    expect(squash(migrations)).not.toBeNull();
    const replayed = await schemaOf(`schema-${name}-replayed`, migrations, false);
    const squashed = await schemaOf(`schema-${name}-squashed`, migrations, true);
    expect(squashed).toEqual(replayed);
    expect(replayed.length).toBeGreaterThan(3);
  });

  it("folds a column in before table constraints, and gives up on anything but CREATE and ADD COLUMN", () => {
    expect(
      squash([["CREATE TABLE t (a TEXT, b TEXT, PRIMARY KEY (a, b))"], ["ALTER TABLE t ADD COLUMN c INTEGER"]]),
    ).toEqual(["CREATE TABLE t (a TEXT, b TEXT, c INTEGER, PRIMARY KEY (a, b))"]);
    expect(squash([["CREATE TABLE t (a TEXT)"], ["UPDATE t SET a = 'x'"]])).toBeNull();
    expect(squash([["ALTER TABLE missing ADD COLUMN c INTEGER"]])).toBeNull();
  });
});
