/**
 * Upgrades: every Durable Object class, made at every schema version it ever had (its migrations
 * replayed up to that version, a row in every table), then opened by today's code. Its rows are
 * intact, the columns added since hold their defaults, its schema is the one a full replay
 * builds; a run made at any version finishes; a run finished before retention is archived by the
 * tenant's backfill pass. The pattern is cloudflare/agents' migration tests: build the old
 * storage by hand, start the new class on it.
 */
import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { archiveKey } from "../../src/artifacts/keys";
import { MIGRATIONS as AUTOMATION_MIGRATIONS } from "../../src/control/automation/object";
import { MIGRATIONS as BREAKER_MIGRATIONS } from "../../src/control/breakers/object";
import { MIGRATIONS as DIRECTORY_MIGRATIONS } from "../../src/control/directory/object";
import { MIGRATIONS as POOL_MIGRATIONS } from "../../src/control/pool/object";
import { RUN_MIGRATIONS } from "../../src/control/run/rows";
import { MIGRATIONS as SECRETS_MIGRATIONS } from "../../src/control/secrets/object";
import { MIGRATIONS as AUDIT_MIGRATIONS } from "../../src/control/audit/object";
import { MIGRATIONS as WORKERS_MIGRATIONS } from "../../src/control/workers/object";
import { OPERATION_MIGRATIONS } from "../../src/control/operations/object";
import { FLOW_MIGRATIONS } from "../../src/control/flow/object";
import { DEBOUNCE_MIGRATIONS } from "../../src/control/debounce/object";
import { migrate, type Migration } from "../../src/control/sqlite";
import { TENANT_MIGRATIONS } from "../../src/control/tenant/object";
import { decodeArchive } from "../../src/control/run/archive-format";
import { newRunId } from "../../src/lib/crypto";
import { api, waitForRun } from "../support/api";
import { tablesIn, until } from "../support/storage";

afterEach(() => reset());

type Row = Record<string, SqlStorageValue>;
/** Column values a table's row must have to mean something to today's code; the rest are filled in. */
type Fixture = Record<string, Row>;
interface Column {
  name: string;
  type: string;
  dflt_value: string | null;
}

const TABLES =
  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> '_schema' ORDER BY name";

function tables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>(TABLES)
    .toArray()
    .map((t) => t.name);
}

function columns(sql: SqlStorage, table: string): Column[] {
  return sql.exec(`PRAGMA table_info(${table})`).toArray() as unknown as Column[];
}

/** Year 2100: an integer filler that, read as a deadline, is never due while the test runs. */
const FAR = 4_102_444_800_000;

/** A value for a column no fixture names: of the column's type, and no status or deadline today's code acts on. */
function filler(table: string, column: Column): SqlStorageValue {
  return /INT/i.test(column.type) ? FAR : `${table}.${column.name}`;
}

/**
 * Makes the object's storage what version `version` of its code left: the chain replayed up to
 * it (no squash: that is how an object of then was upgraded step by step) and one row in every
 * table, with the columns of then. Returns the rows written, by table.
 */
function buildAt(sql: SqlStorage, migrations: readonly Migration[], version: number, fixture: Fixture) {
  expect(migrate(sql, migrations.slice(0, version), { squash: false }).version).toBe(version);
  const written: Record<string, Row> = {};
  for (const table of tables(sql)) {
    sql.exec(`DELETE FROM ${table}`); // a row a data migration wrote is replaced by the fixture's
    const row: Row = {};
    const given = fixture[table] ?? {};
    for (const column of columns(sql, table))
      row[column.name] = column.name in given ? (given[column.name] ?? null) : filler(table, column);
    const names = Object.keys(row);
    sql.exec(
      `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
      ...Object.values(row),
    );
    written[table] = row;
  }
  expect(Object.keys(written).length).toBeGreaterThan(0);
  return written;
}

/** Every table's columns and indexes, as SQLite reports them. */
function describeSchema(sql: SqlStorage) {
  return tables(sql).map((name) => ({
    name,
    columns: sql.exec(`PRAGMA table_info(${name})`).toArray(),
    indexes: sql
      .exec<{ name: string }>(`PRAGMA index_list(${name})`)
      .toArray()
      .map((i) => i.name)
      .sort(),
  }));
}

/**
 * After today's code opened the object: each row written at the old version is there with the
 * values it had, and each column added since holds its declared default (NULL when none).
 */
function expectIntact(sql: SqlStorage, written: Record<string, Row>) {
  for (const [table, row] of Object.entries(written)) {
    const rows = sql.exec(`SELECT * FROM ${table}`).toArray();
    expect(rows.length, table).toBe(1);
    const expected: Row = { ...row };
    for (const column of columns(sql, table)) {
      if (column.name in row) continue;
      expected[column.name] =
        column.dflt_value === null ? null : (sql.exec(`SELECT ${column.dflt_value} AS v`).one().v as SqlStorageValue);
    }
    expect(rows[0], table).toEqual(expected);
  }
}

/** The schema a full replay of the chain builds, in a scratch run object (empty until a run is made in it). */
async function replayedSchema(migrations: readonly Migration[]) {
  return runInDurableObject(env.RUN.getByName(`upgrade-scratch-${crypto.randomUUID()}`), (_o, state) => {
    migrate(state.storage.sql, migrations, { squash: false });
    return describeSchema(state.storage.sql);
  });
}

const NOW = Date.now();
const DAY = 86_400_000;
/** The local development tenant: the API's default key reads its runs. */
const DEV_TENANT = "dev";

/** A run whose first step succeeded and whose second was dispatched but not yet sent (a kill after the commit). */
function runFixture(
  runId: string,
  opts: { status: "running" | "succeeded"; finishedAt?: number; tenant?: string } = { status: "running" },
): Fixture {
  const RUN_TENANT = opts.tenant ?? DEV_TENANT;
  const done = opts.status === "succeeded";
  const message = {
    v: 1,
    runId,
    tenantId: RUN_TENANT,
    stepId: "b",
    attempt: 1,
    type: "system.echo",
    pool: "system",
    traceId: "0".repeat(32),
  };
  const step = {
    position: 0,
    type: "system.echo",
    pool: "system",
    pending_deps: 0,
    failures: 0,
    max_attempts: 3,
    timeout_ms: 60_000,
    error: null,
    heartbeat_timeout_ms: null,
    spawned_by: null,
    initial_delay_ms: 1000,
    max_delay_ms: 300_000,
    depth: 0,
    holds: 0,
    flow: null,
  };
  return {
    run: {
      id: runId,
      tenant_id: RUN_TENANT,
      project: "upgrades",
      blueprint: null,
      status: opts.status,
      trace_id: "0".repeat(32),
      error: null,
      created_at: NOW - 10_000,
      started_at: NOW - 9_000,
      finished_at: opts.finishedAt ?? null,
      deadline_at: null,
      failure_policy: "fail-fast",
      retry_of: null,
      retried_as: null,
      priority: "normal",
      scanning: null,
      retention: null,
      tenant_shard: 0,
      requested_by: null,
      origin: null,
      labels: null,
      flow: null,
    },
    step: {
      ...step,
      id: "a",
      input: JSON.stringify({ say: "a" }),
      depends_on: "[]",
      status: "succeeded",
      attempt: 1,
      output: JSON.stringify({ say: "a" }),
      queued_at: NOW - 9_000,
      started_at: NOW - 8_500,
      finished_at: NOW - 8_000,
    },
    // Only one row per table: step b is added by hand below (it depends on a).
    edge: { dep_id: "a", step_id: "b" },
    attempt: {
      step_id: "a",
      attempt: 1,
      status: "succeeded",
      dispatched_at: NOW - 9_000,
      started_at: NOW - 8_500,
      finished_at: NOW - 8_000,
      error: null,
      usage: null,
    },
    event: { seq: 1, type: "run.started", step_id: null, occurred_at: NOW - 9_000, data: "{}" },
    timer: done
      ? { kind: "lease", ref: "gone", attempt: 9, due_at: NOW + 3_600_000 } // a stale row: ignored when it fires
      : { kind: "outbox", ref: "flush", attempt: 0, due_at: NOW - 1 },
    outbox: { id: 1, kind: "dispatch", pool: "system", body: JSON.stringify(message) },
    artifact: {
      name: "a.txt",
      step_id: "a",
      attempt: 1,
      r2_key: `tenants/${RUN_TENANT}/runs/${runId}/a/1/a.txt`,
      size: 1,
      content_type: "text/plain",
      sha256: "0".repeat(64),
      created_at: NOW - 8_000,
      status: "generated",
      scan: null,
      input_sha256: null,
    },
  };
}

/** Step b of the fixture run: waiting for its dispatch (or, in a finished run, succeeded too). */
function addStepB(sql: SqlStorage, columnsOfThen: string[], done: boolean) {
  const b: Row = {
    id: "b",
    position: 1,
    type: "system.echo",
    pool: "system",
    input: JSON.stringify({ say: "b" }),
    depends_on: JSON.stringify(["a"]),
    pending_deps: 0,
    status: done ? "succeeded" : "queued",
    attempt: 1,
    failures: 0,
    max_attempts: 3,
    timeout_ms: 60_000,
    output: done ? JSON.stringify({ say: "b" }) : null,
    error: null,
    queued_at: NOW - 8_000,
    started_at: done ? NOW - 7_000 : null,
    finished_at: done ? NOW - 6_000 : null,
  };
  const names = Object.keys(b).filter((n) => columnsOfThen.includes(n));
  sql.exec(
    `INSERT INTO step (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
    ...names.map((n) => b[n] ?? null),
  );
  if (!done) sql.exec("INSERT INTO timer (kind, ref, attempt, due_at) VALUES ('lease', 'b', 1, ?)", NOW + 60_000);
}

/** The object classes of wrangler.toml, each with its binding and its migration chain. */
const CLASSES = [
  { binding: "RUN", migrations: RUN_MIGRATIONS },
  { binding: "TENANT", migrations: TENANT_MIGRATIONS },
  { binding: "POOL", migrations: POOL_MIGRATIONS },
  { binding: "DIRECTORY", migrations: DIRECTORY_MIGRATIONS },
  { binding: "BREAKER", migrations: BREAKER_MIGRATIONS },
  { binding: "AUTOMATION", migrations: AUTOMATION_MIGRATIONS },
  { binding: "SECRETS", migrations: SECRETS_MIGRATIONS },
  { binding: "AUDIT", migrations: AUDIT_MIGRATIONS },
  { binding: "OPERATIONS", migrations: OPERATION_MIGRATIONS },
  { binding: "FLOW", migrations: FLOW_MIGRATIONS },
  { binding: "WORKERS", migrations: WORKERS_MIGRATIONS },
  { binding: "DEBOUNCE", migrations: DEBOUNCE_MIGRATIONS },
] as const;

/** Tables whose rows need particular values (a CHECK, or today's code reading them at start). */
const FIXTURES: Record<string, Fixture> = {
  RUN: runFixture("upgrade-generic"),
  TENANT: {
    tenant: { status: "active", limits: "{}", weight: 1 },
    tenant_purge: { id: 1 },
    budget: { id: 1 },
    shard_span: { id: 0 },
    archive_backfill: { id: 1 },
  },
  POOL: {},
  DIRECTORY: {},
  BREAKER: { breaker: { id: 1, state: JSON.stringify({ name: "closed", since: NOW, window: [] }) } },
  FLOW: { flow_key: { id: 1 }, rate_key: { id: 1 } },
  DEBOUNCE: { pending: { id: 1 } },
};

const cases = CLASSES.flatMap((c) =>
  Array.from({ length: c.migrations.length }, (_, i) => [c.binding, i + 1, c.migrations.length] as const),
);

describe("upgrades of every object class", () => {
  it("covers every Durable Object binding", () => {
    const bindings = Object.entries(env)
      .filter(([k, v]) => !k.startsWith("__") && typeof (v as { idFromName?: unknown }).idFromName === "function")
      .map(([k]) => k)
      .sort();
    expect(bindings).toEqual(CLASSES.map((c) => c.binding).sort());
  });

  it.each(cases)(
    "%s made at version %i of %i opens with its rows intact and new columns defaulted",
    async (binding, version) => {
      const spec = CLASSES.find((c) => c.binding === binding);
      if (!spec) throw new Error(binding);
      // A stub breaks with its object's abort: each call below takes a new one.
      const stub = () => (env[binding] as unknown as DurableObjectNamespace).getByName(`upgrade-${binding}-${version}`);
      const written = await runInDurableObject(stub(), async (_o, state) => {
        await state.storage.deleteAll(); // what today's constructor made
        return buildAt(state.storage.sql, spec.migrations, version, FIXTURES[binding] ?? {});
      });
      await abortAllDurableObjects(); // the next call starts today's class on the old storage
      // Synchronous, so nothing (an alarm the start set) runs between today's constructor and this look.
      const after = await runInDurableObject(stub(), (_o, state) => {
        expectIntact(state.storage.sql, written);
        return {
          version: state.storage.sql.exec<{ version: number }>("SELECT version FROM _schema").one().version,
          schema: describeSchema(state.storage.sql),
        };
      });
      expect(after.version).toBe(spec.migrations.length);
      expect(after.schema).toEqual(await replayedSchema(spec.migrations));
    },
  );
});

const RUN_VERSIONS = Array.from({ length: RUN_MIGRATIONS.length }, (_, i) => i + 1);

describe("a run made by older code", () => {
  it.each(RUN_VERSIONS)(
    "finishes under today's code (schema version %i)",
    async (version) => {
      expect((await api("/v1/runs?limit=1")).status).toBe(200); // the dev key's first use makes its tenant
      const runId = newRunId();
      await runInDurableObject(env.RUN.getByName(runId), async (_o, state) => {
        const sql = state.storage.sql;
        buildAt(sql, RUN_MIGRATIONS, version, runFixture(runId));
        addStepB(
          sql,
          columns(sql, "step").map((c) => c.name),
          false,
        );
        // The old object's alarm, for its outbox timer; run below by the new class, not by this instance.
        await state.storage.setAlarm(Date.now() + 3_600_000);
      });
      await abortAllDurableObjects();
      expect(await runDurableObjectAlarm(env.RUN.getByName(runId))).toBe(true);
      const run = await waitForRun(runId, { timeoutMs: 25_000 });
      expect(run.status).toBe("succeeded");
      expect(run.steps.map((s) => [s.id, s.status, s.output])).toEqual([
        ["a", "succeeded", { say: "a" }],
        ["b", "succeeded", { say: "b" }],
      ]);
    },
    40_000,
  );
});

describe("the archive backfill", () => {
  it("archives a run that finished before retention, through its tenant's pass after the upgrade", async () => {
    const tenant = "backfill";
    const runId = newRunId(NOW - 9 * DAY);
    const finishedAt = NOW - 8 * DAY; // past the default hot period (7 days): archived at once
    // The run as version 5 left it (before retention): finished, no archive timer, nothing left to send.
    await runInDurableObject(env.RUN.getByName(runId), (_o, state) => {
      const sql = state.storage.sql;
      buildAt(sql, RUN_MIGRATIONS, 5, runFixture(runId, { status: "succeeded", finishedAt, tenant }));
      addStepB(
        sql,
        columns(sql, "step").map((c) => c.name),
        true,
      );
      sql.exec("DELETE FROM outbox");
      sql.exec("DELETE FROM timer WHERE kind <> 'lease'");
    });
    // Its tenant as version 8 left it (archive columns, no retention), indexing the run as finished.
    await runInDurableObject(env.TENANT.getByName(tenant), async (_o, state) => {
      await state.storage.deleteAll();
      const run_index = {
        run_id: runId,
        project: "upgrades",
        blueprint: null,
        status: "succeeded",
        version: 9,
        created_at: NOW - 9 * DAY,
        updated_at: finishedAt,
        opened_at: null,
        archived_at: null,
        archive_bytes: null,
      };
      const profile = { ...FIXTURES.TENANT?.tenant, id: tenant };
      buildAt(state.storage.sql, TENANT_MIGRATIONS, 8, { ...FIXTURES.TENANT, tenant: profile, run_index });
    });
    await abortAllDurableObjects();

    // Today's tenant object starts (any call), finds its backfill due and sets its alarm; the rest is alarms.
    await runInDurableObject(env.TENANT.getByName(tenant), (_o, state) =>
      expect(state.storage.sql.exec("SELECT after FROM archive_backfill").toArray()).toEqual([{ after: "" }]),
    );
    const archived = await until(
      "the run's archival",
      () =>
        runInDurableObject(env.TENANT.getByName(tenant), (_o, state) => {
          const row = state.storage.sql
            .exec<{ archived_at: number | null; expires_at: number | null }>(
              "SELECT archived_at, expires_at FROM run_index WHERE run_id = ?",
              runId,
            )
            .one();
          return row.archived_at === null ? null : row;
        }),
      25_000,
    );
    expect(archived.expires_at).toBe((archived.archived_at ?? 0) + 90 * DAY); // the default archive period
    expect(await tablesIn(env.RUN.getByName(runId))).toEqual([]);
    const stored = await env.ARTIFACTS.get(archiveKey(tenant, runId));
    if (!stored) throw new Error("no archive in R2");
    const archive = decodeArchive(new Uint8Array(await stored.arrayBuffer()));
    expect(archive.run.status).toBe("succeeded");
    expect(archive.run.steps.map((s) => s.id)).toEqual(["a", "b"]);
    // Its hot period counted from when it finished, under the project's retention (the defaults here).
    expect(archive.archivedAt).toBe(finishedAt + 7 * DAY);
    expect(archive.retention.hotMs).toBe(7 * DAY);
    // The pass is done: the tenant forgot it.
    await runInDurableObject(env.TENANT.getByName(tenant), (_o, state) =>
      expect(state.storage.sql.exec("SELECT * FROM archive_backfill").toArray()).toEqual([]),
    );
  }, 40_000);
});
