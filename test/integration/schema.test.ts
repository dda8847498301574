import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createSchema, migrate, rebuildTable, squash, upgradeOnly, type Migration } from "../../src/control/sqlite";
import { RUN_MIGRATIONS } from "../../src/control/run/rows";
import { RunStore } from "../../src/control/run/store";
import { LAZY_TABLES, type LazyTable } from "../../src/control/run/lazy-tables";
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
    expect(migrate(state.storage.sql, migrations, { squash: squashed })).toEqual({
      version: migrations.length,
      created: true,
    });
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

  it("a new run's object leaves out the tables it makes on first use, and makes them as the migrations define them", async () => {
    const replayed = await schemaOf("schema-run-lazy-replayed", RUN_MIGRATIONS, false);
    const lazy = await runInDurableObject(env.RUN.getByName("schema-run-lazy"), (_instance, state) => {
      const store = new RunStore(state.storage.sql);
      store.initialize();
      const without = describeSchema(state.storage.sql).map((t) => t.name);
      store.beginTransaction();
      store.insertEdge("a", "b"); // written at commit, into the table made then
      store.insertArtifact({
        name: "x",
        step_id: "a",
        attempt: 1,
        r2_key: "k",
        size: 1,
        content_type: "text/plain",
        sha256: "0".repeat(64),
        created_at: 0,
        status: "generated",
        scan: null,
        input_sha256: null,
      });
      store.commit();
      return { without, made: describeSchema(state.storage.sql) };
    });
    expect(lazy.without).toEqual(replayed.map((t) => t.name).filter((n) => !LAZY_TABLES.includes(n as LazyTable)));
    expect(lazy.made).toEqual(replayed);
  });

  it("folds a column in before table constraints, and gives up on anything but CREATE and ADD COLUMN", () => {
    expect(
      squash([["CREATE TABLE t (a TEXT, b TEXT, PRIMARY KEY (a, b))"], ["ALTER TABLE t ADD COLUMN c INTEGER"]]),
    ).toEqual(["CREATE TABLE t (a TEXT, b TEXT, c INTEGER, PRIMARY KEY (a, b))"]);
    expect(squash([["CREATE TABLE t (a TEXT)"], ["UPDATE t SET a = 'x'"]])).toBeNull();
    expect(squash([["ALTER TABLE missing ADD COLUMN c INTEGER"]])).toBeNull();
    // A backfill only an upgraded object needs is left out of a new object's schema, not a reason to replay.
    expect(squash([["CREATE TABLE t (a TEXT)"], [upgradeOnly("INSERT INTO t (a) VALUES ('x')")]])).toEqual([
      "CREATE TABLE t (a TEXT)",
    ]);
  });

  it("folds a table rebuild (rebuildTable) into the table's CREATE TABLE, its columns kept", () => {
    const before: Migration[] = [
      ["CREATE TABLE t (a TEXT, b INTEGER, PRIMARY KEY (a, b))"],
      ["ALTER TABLE t ADD COLUMN c TEXT"],
    ];
    const rebuilt = rebuildTable(before, "t", (ddl) => `${ddl} WITHOUT ROWID`);
    expect(rebuilt[0]).toBe("CREATE TABLE t_rebuilt (a TEXT, b INTEGER, c TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID");
    expect(squash([...before, rebuilt])).toEqual([
      "CREATE TABLE t (a TEXT, b INTEGER, c TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID",
    ]);
    expect(squash([["DROP TABLE missing"]])).toBeNull();
    expect(() => rebuildTable(before, "t", (ddl) => ddl)).toThrow(/changed nothing/);
  });

  it("upgrades a run object made without its lazy tables (v10, squashed) to the schema the migrations define", async () => {
    const replayed = await schemaOf("schema-run-v10-replayed", RUN_MIGRATIONS, false);
    const upgraded = await runInDurableObject(env.RUN.getByName("schema-run-v10-lazy"), (_instance, state) => {
      const sql = state.storage.sql;
      expect(createSchema(sql, RUN_MIGRATIONS.slice(0, 10), LAZY_TABLES)).toBe(true);
      sql.exec("INSERT INTO event (type, step_id, occurred_at, data) VALUES ('run.created', NULL, 1, '{}')");
      expect(migrate(sql, RUN_MIGRATIONS)).toEqual({ version: RUN_MIGRATIONS.length, created: false });
      expect(sql.exec("SELECT seq, type FROM event").toArray()).toEqual([{ seq: 1, type: "run.created" }]);
      return describeSchema(sql);
    });
    // The edge table is made by the upgrade (to rebuild it); the artifact table still on first use.
    expect(upgraded).toEqual(replayed.filter((t) => t.name !== "artifact"));
  });
});
