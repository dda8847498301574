import { DEFAULT_RESOLVE_OPTIONS } from "../../src/control/resolve";
import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { RunEngine } from "../../src/control/run/engine";
import type { EngineConfig } from "../../src/control/run/types";
import { RUN_MIGRATIONS } from "../../src/control/run/rows";
import { RunStore } from "../../src/control/run/store";
import { runStub } from "../../src/control/run/stub";
import { migrate } from "../../src/control/sqlite";
import { newRunId } from "../../src/lib/crypto";
import { api, createRun, events, waitForRun } from "../support/api";
import type { NewRun } from "../../schema/run";

afterEach(() => reset());

const CONFIG: EngineConfig = {
  leaseQueuedMs: 1000,
  leaseGraceMs: 100,
  outboxRetryMs: 1000,
  lostBudget: 2,
  resolve: DEFAULT_RESOLVE_OPTIONS,
};

function spec(id: string, steps: NewRun["steps"]): NewRun {
  return {
    id,
    tenantId: "dev",
    project: "p",
    blueprint: null,
    traceId: `${"0".repeat(31)}1`,
    failurePolicy: "fail-fast",
    priority: "normal",
    steps,
  };
}

const step = (id: string, dependsOn: string[] = []) => ({
  id,
  type: "system.echo",
  pool: "system" as const,
  input: {},
  dependsOn,
  retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 100 },
  timeoutMs: 1000,
});

/** Runs engine decisions on a run object's real SQLite, without its outbox being sent. */
async function withEngine<T>(runId: string, fn: (engine: RunEngine, store: RunStore) => T): Promise<T> {
  return runInDurableObject(env.RUN.getByName(runId), (_instance, state) => {
    const store = new RunStore(state.storage.sql);
    store.initialize();
    return fn(new RunEngine(store, CONFIG), store);
  });
}

describe("Run DO: fencing, leases, recovery", () => {
  it("a lost dispatch is sent again under a new attempt when its lease ends; the old attempt is fenced off", async () => {
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [step("a")]), 1_000);
      engine.admit(1_000);
      expect(
        store
          .outbox()
          .filter((r) => r.kind === "dispatch")
          .map((r) => JSON.parse(r.body).attempt),
      ).toEqual([1]);
      const lease = store.dueTimers(1_000 + CONFIG.leaseQueuedMs).find((t) => t.kind === "lease")!;
      engine.fire(lease, 2_000); // nobody began attempt 1: the message was lost
      expect(store.step("a")).toMatchObject({ status: "queued", attempt: 2, failures: 0 });
      expect(
        store
          .outbox()
          .filter((r) => r.kind === "dispatch")
          .map((r) => JSON.parse(r.body).attempt),
      ).toEqual([1, 2]);
      expect(engine.begin("a", 1, 2_001)).toMatchObject({ ok: false, code: "attempt.stale" });
      expect(engine.begin("a", 2, 2_001)).toMatchObject({ ok: true });
      expect(engine.begin("a", 2, 2_002)).toMatchObject({ ok: false, code: "attempt.duplicate" });
      const stale = engine.report(
        {
          stepId: "a",
          attempt: 1,
          outcome: "succeeded",
          output: {},
          artifacts: [{ name: "x.txt", key: "k", size: 1, contentType: "text/plain", sha256: "0".repeat(64) }],
        },
        2_003,
      );
      expect(stale).toMatchObject({ ok: false, code: "attempt.stale" });
      expect(store.artifacts()).toEqual([]); // a refused result leaves no trace in the manifest
      expect(
        engine.report({ stepId: "a", attempt: 2, outcome: "succeeded", output: { ok: true }, artifacts: [] }, 2_004),
      ).toEqual({ ok: true });
      expect(store.run()!.status).toBe("succeeded");
    });
  });

  it("a dispatch lost more often than the budget allows fails the step as undeliverable", async () => {
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [{ ...step("a"), retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 100 } }]), 0);
      engine.admit(0);
      for (let t = 1; store.step("a")!.status === "queued"; t++) {
        engine.fire(store.dueTimers(Number.MAX_SAFE_INTEGER).find((x) => x.kind === "lease")!, t);
      }
      expect(store.step("a")).toMatchObject({ status: "failed", attempt: 1 + CONFIG.lostBudget });
      expect(store.run()!.status).toBe("failed");
    });
  });

  it("the run's owner re-validates: an invalid graph goes requested → failed without executing", async () => {
    const runId = newRunId();
    const view = await runStub(env, runId).create(spec(runId, [step("a", ["b"]), step("b", ["a"])]));
    expect(view).toMatchObject({ status: "failed", error: { code: "run.invalid_graph" }, steps: [] });
    expect((await events(runId)).map((e) => e.type)).toEqual(["run.requested", "run.failed"]);
  });

  it("a worker that dies mid-attempt: the lease ends, a new attempt runs, the zombie's late result is refused", async () => {
    const run = await createRun({
      project: "p",
      steps: [{ id: "a", type: "system.sleep", input: { ms: 1_500 }, timeoutMs: 10_000 }],
    });
    const stub = env.RUN.getByName(run.id);
    for (;;) {
      const current = (await (await api(`/v1/runs/${run.id}`)).json()) as typeof run;
      if (current.steps[0]!.status === "running") break;
      await new Promise((r) => setTimeout(r, 10));
    }
    // Pretend attempt 1's worker vanished: bring its lease forward and let the alarm act.
    // Through the object's own store: it mirrors its timers in memory, as it must see its writes.
    await runInDurableObject(stub, (object, state) => {
      const store = (object as unknown as { store: RunStore }).store;
      state.storage.transactionSync(() => {
        store.setTimer("lease", "a", 0, 1);
        store.commit();
      });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const done = await waitForRun(run.id, { timeoutMs: 10_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.attempts).toBe(2);
    const log = await events(run.id);
    expect(log.find((e) => e.type === "step.lease_expired")?.data).toMatchObject({ attempt: 1, phase: "running" });
    // Attempt 1 kept sleeping and reported later: refused, not double-counted.
    for (let i = 0; i < 100 && !(await events(run.id)).some((e) => e.type === "step.result_refused"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await events(run.id)).filter((e) => e.type === "step.succeeded")).toHaveLength(1);
  });

  it("aborting every Durable Object mid-run loses nothing: the run finishes from its stored state", async () => {
    const steps = Array.from({ length: 30 }, (_, i) => ({
      id: `s${i}`,
      type: "system.echo",
      input: { i },
      dependsOn: i ? [`s${i - 1}`] : [],
    }));
    const run = await createRun({ project: "p", steps });
    await new Promise((r) => setTimeout(r, 60));
    await abortAllDurableObjects();
    await new Promise((r) => setTimeout(r, 30));
    await abortAllDurableObjects();
    const done = await waitForRun(run.id, { timeoutMs: 20_000 });
    expect(done.status).toBe("succeeded");
    expect((await events(run.id)).filter((e) => e.type === "step.succeeded")).toHaveLength(30);
  });

  it("a dead-lettered attempt is a failure under the step's retry policy", async () => {
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [step("a")]), 0);
      engine.admit(0);
      expect(engine.deadLettered("a", 1, 5)).toEqual({ ok: true });
      expect(store.step("a")).toMatchObject({ status: "retrying", failures: 1 });
      expect(engine.deadLettered("a", 1, 6)).toMatchObject({ ok: false, code: "attempt.stale" });
    });
  });
});

describe("Run DO: spawning", () => {
  // As a worker reports them: asked-for specs, resolved by the run against the job catalog.
  const spawned = (id: string, dependsOn: string[] = []) => ({ id, type: "system.echo", input: {}, dependsOn });

  it("spawned steps start after their parent, and its dependents wait for all of them", async () => {
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [step("plan"), step("join", ["plan"])]), 0);
      engine.admit(0);
      engine.begin("plan", 1, 1);
      const report = {
        stepId: "plan",
        attempt: 1,
        outcome: "succeeded" as const,
        output: {},
        artifacts: [],
        spawn: [spawned("m1"), spawned("m2", ["m1"])],
      };
      expect(engine.report(report, 2)).toEqual({ ok: true });
      expect(store.step("m1")).toMatchObject({ status: "queued", depth: 1, spawned_by: "plan" });
      expect(store.step("m2")).toMatchObject({ status: "pending", pending_deps: 1 });
      expect(store.step("join")).toMatchObject({
        status: "pending",
        pending_deps: 2,
        depends_on: JSON.stringify(["plan", "m1", "m2"]),
      });
      for (const id of ["m1", "m2"]) {
        engine.begin(id, 1, 3);
        engine.report({ stepId: id, attempt: 1, outcome: "succeeded", output: {}, artifacts: [] }, 4);
      }
      expect(store.step("join")!.status).toBe("queued");
    });
  });

  it("the run resolves a spawn against the job catalog: a worker cannot choose a pool, and unknown types fail", async () => {
    for (const asked of [
      { id: "m1", type: "no.such-type", input: {} },
      { id: "m1", type: "system.echo", input: {}, pool: "agent" },
      { id: "m1", type: "system.sleep", input: { ms: -1 } },
    ]) {
      const runId = newRunId();
      await withEngine(runId, (engine, store) => {
        engine.create(spec(runId, [step("plan")]), 0);
        engine.admit(0);
        engine.begin("plan", 1, 1);
        const report = { stepId: "plan", attempt: 1, outcome: "succeeded" as const, output: {}, artifacts: [] };
        expect(engine.report({ ...report, spawn: [asked as never] }, 2)).toEqual({ ok: true });
        expect(store.step("plan")).toMatchObject({ status: "failed", error: expect.stringContaining("spawn.invalid") });
        expect(store.stepCount()).toBe(1);
      });
    }
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [step("plan")]), 0);
      engine.admit(0);
      engine.begin("plan", 1, 1);
      const report = { stepId: "plan", attempt: 1, outcome: "succeeded" as const, output: {}, artifacts: [] };
      engine.report({ ...report, spawn: [{ id: "s", type: "system.sleep", input: { ms: 5 } }] }, 2);
      // The catalog's pool and the pool's default timeout, not anything the reporter said.
      expect(store.step("s")).toMatchObject({ status: "queued", pool: "system", timeout_ms: 60_000 });
    });
  });

  it("a spawn reusing an id, or nested too deep, fails the spawning step (spawn.invalid) and adds nothing", async () => {
    const runId = newRunId();
    await withEngine(runId, (engine, store) => {
      engine.create(spec(runId, [step("plan"), step("other")]), 0);
      engine.admit(0);
      engine.begin("plan", 1, 1);
      engine.report(
        { stepId: "plan", attempt: 1, outcome: "succeeded", output: {}, artifacts: [], spawn: [spawned("other")] },
        2,
      );
      expect(store.step("plan")).toMatchObject({ status: "failed", error: expect.stringContaining("spawn.invalid") });
      expect(store.stepCount()).toBe(2);
    });
    const deep = newRunId();
    await withEngine(deep, (engine, store) => {
      engine.create(spec(deep, [step("d0")]), 0);
      engine.admit(0);
      for (let depth = 0; depth <= 3; depth++) {
        const id = `d${depth}`;
        engine.begin(id, 1, depth * 10 + 1);
        engine.report(
          {
            stepId: id,
            attempt: 1,
            outcome: "succeeded",
            output: {},
            artifacts: [],
            spawn: [spawned(`d${depth + 1}`)],
          },
          depth * 10 + 2,
        );
      }
      expect(store.step("d3")).toMatchObject({ status: "failed", error: expect.stringContaining("at most 3 deep") });
      expect(store.step("d4")).toBeNull();
    });
  });
});

describe("Run DO schema", () => {
  it("migrations are ordered and versioned: an existing v1 object upgrades and keeps its data", async () => {
    const runId = newRunId();
    await runInDurableObject(env.RUN.getByName(runId), (_o, state) => {
      const sql = state.storage.sql;
      // An object created under schema v1 (before retry policies and run lineage existed)…
      expect(migrate(sql, RUN_MIGRATIONS.slice(0, 1))).toEqual({ version: 1, created: true });
      sql.exec(
        "INSERT INTO run (id, tenant_id, project, status, trace_id, created_at) VALUES ('r', 'dev', 'p', 'running', 't', 1)",
      );
      sql.exec(
        "INSERT INTO step (id, position, type, pool, input, depends_on, pending_deps, status, max_attempts, timeout_ms) VALUES ('a', 0, 'system.echo', 'system', '{}', '[]', 0, 'pending', 3, 1000)",
      );
      sql.exec("INSERT INTO event (type, step_id, occurred_at, data) VALUES ('run.requested', NULL, 1, '{}')");
      // …upgrades in order, keeps its rows, and gets the new columns' defaults.
      expect(migrate(sql, RUN_MIGRATIONS)).toEqual({ version: RUN_MIGRATIONS.length, created: false });
      expect(sql.exec("SELECT failure_policy, retry_of FROM run").toArray()).toEqual([
        { failure_policy: "fail-fast", retry_of: null },
      ]);
      expect(sql.exec("SELECT max_attempts, initial_delay_ms, max_delay_ms FROM step").toArray()).toEqual([
        { max_attempts: 3, initial_delay_ms: 1000, max_delay_ms: 300000 },
      ]);
      const next = [...RUN_MIGRATIONS, ["ALTER TABLE event ADD COLUMN note TEXT"]];
      expect(migrate(sql, next).version).toBe(RUN_MIGRATIONS.length + 1);
      expect(migrate(sql, next).version).toBe(RUN_MIGRATIONS.length + 1); // idempotent
      expect(sql.exec("SELECT type, note FROM event").toArray()).toEqual([{ type: "run.requested", note: null }]);
    });
  });
});
