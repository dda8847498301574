import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { runStub } from "../../src/control/run/stub";
import { OPENED_CHECK_MS, RunBook } from "../../src/control/tenant/runs";
import type { RunStatus } from "../../schema/vocabulary";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const sleepRun = (ms: number, priority?: string) => ({
  project: "p",
  ...(priority ? { priority } : {}),
  steps: [{ id: "a", type: "system.sleep", input: { ms } }],
});
const setLimits = (tenant: string, body: unknown) =>
  api(`/v1/admin/tenants/${tenant}`, { method: "PATCH", key: ADMIN_TOKEN, json: body });
const status = async (id: string, key: string) =>
  ((await (await api(`/v1/runs/${id}`, { key })).json()) as RunView).status;

describe("admission: at most maxConcurrentRuns run, the rest wait in queued", () => {
  it("never rejects for concurrency; starts waiting runs as slots free, high priority first", async () => {
    const key = await newTenantKey("acme");
    await setLimits("acme", { limits: { maxConcurrentRuns: 2 } });
    // The first two sleep long enough that all three waiting runs are queued before a slot frees.
    const first = [await createRun(sleepRun(1_500), key), await createRun(sleepRun(1_500), key)];
    const low = await createRun(sleepRun(50, "low"), key);
    const normal = await createRun(sleepRun(50), key);
    const high = await createRun(sleepRun(50, "high"), key);
    expect(first.map((r) => r.status)).toEqual(["running", "running"]);
    expect([low.status, normal.status, high.status]).toEqual(["queued", "queued", "queued"]);
    const tenant = (await (await api("/v1/admin/tenants/acme", { key: ADMIN_TOKEN })).json()) as {
      runs: { running: number; waiting: number };
    };
    expect(tenant.runs).toEqual({ running: 2, waiting: 3 });

    const done = await Promise.all([...first, low, normal, high].map((r) => waitForRun(r.id, { key })));
    expect(done.every((r) => r.status === "succeeded")).toBe(true);
    const started = (r: RunView) => Date.parse(r.startedAt!);
    const [, , lowDone, normalDone, highDone] = done;
    expect(started(highDone!)).toBeLessThanOrEqual(started(normalDone!));
    expect(started(normalDone!)).toBeLessThanOrEqual(started(lowDone!));
  });

  it("a suspended tenant gets 403 and its queued runs do not start until it is reactivated", async () => {
    const key = await newTenantKey("acme");
    await setLimits("acme", { limits: { maxConcurrentRuns: 1 } });
    const running = await createRun(sleepRun(1_000), key);
    const waiting = await createRun(sleepRun(10), key);
    expect(waiting.status).toBe("queued");
    await setLimits("acme", { status: "suspended" });
    const refused = await api("/v1/runs", { key });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("tenant.suspended");

    // The running one finishes; its slot stays shut while the tenant is suspended.
    // The tenant's own key is refused now, so the test reads the runs' objects directly.
    const direct = async (id: string) => (await runStub(env, id).get("acme"))!.status;
    for (const deadline = Date.now() + 10_000; (await direct(running.id)) !== "succeeded"; ) {
      if (Date.now() > deadline) throw new Error("the running run did not finish");
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await direct(waiting.id)).toBe("queued");
    await setLimits("acme", { status: "active" });
    expect((await waitForRun(waiting.id, { key })).status).toBe("succeeded");
  });

  it("raising the limit starts waiting runs at once", async () => {
    const key = await newTenantKey("acme");
    await setLimits("acme", { limits: { maxConcurrentRuns: 1 } });
    const long = await createRun(sleepRun(3_000), key);
    // Another pool: locally a queue runs one consumer batch at a time, so a second system step
    // would wait behind the sleeping one whatever admission did.
    const waiting = await createRun({ project: "p", blueprint: "microservice", input: { name: "svc" } }, key);
    expect(waiting.status).toBe("queued");
    await setLimits("acme", { limits: { maxConcurrentRuns: 5 } });
    const done = await waitForRun(waiting.id, { key });
    expect(done.status).toBe("succeeded");
    // It did not wait for the long run's slot: it finished while that run was still going.
    expect(await status(long.id, key)).toBe("running");
  });
});

describe("rate limit and quota", () => {
  it("a tenant over its request rate gets 429 with Retry-After; another tenant is unaffected", async () => {
    const key = await newTenantKey("acme");
    const other = await newTenantKey("globex");
    await setLimits("acme", { limits: { requestsPerMinute: 5 } });
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 7; i++) {
      last = await api("/v1/runs", { key });
      statuses.push(last.status);
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await last!.json()) as { code: string }).code).toBe("rate.limited");
    expect((await api("/v1/runs", { key: other })).status).toBe(200);
  });

  it("the monthly run quota answers 429 quota.exceeded for new runs; replays do not count", async () => {
    const key = await newTenantKey("acme");
    await setLimits("acme", { limits: { monthlyRuns: 2 } });
    const body = sleepRun(1);
    const post = (idem: string) =>
      api("/v1/runs", { method: "POST", key, json: body, headers: { "idempotency-key": idem } });
    expect((await post("one")).status).toBe(202);
    expect((await post("two")).status).toBe(202);
    expect((await post("two")).status).toBe(202); // a replay
    const refused = await post("three");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code: string }).code).toBe("quota.exceeded");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await (await api("/v1/runs", { key })).json()) as { items: unknown[] }).items).toHaveLength(2);
    await setLimits("acme", { limits: { monthlyRuns: 3 } });
    expect((await post("three")).status).toBe(202); // the refused key was released, not burned
  });
});

describe("admission's cost does not grow with the tenant's history", () => {
  it("no query admission makes scans the run index: finished runs are never read", async () => {
    await runInDurableObject(env.TENANT.getByName("plans"), (_instance, state) => {
      const sql = state.storage.sql;
      const plans: string[] = [];
      // Runs each SELECT the book makes through EXPLAIN QUERY PLAN as well.
      const explaining = {
        exec: (query: string, ...params: unknown[]) => {
          if (/^\s*SELECT/i.test(query)) {
            for (const r of sql.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...params))
              plans.push(`${r.detail} ← ${query.replace(/\s+/g, " ")}`);
          }
          return sql.exec(query, ...params);
        },
      } as unknown as SqlStorage;
      const book = new RunBook(explaining);
      const sync = (runId: string, status: RunStatus, version: number) =>
        ({
          runId,
          project: "p",
          blueprint: null,
          status,
          priority: "normal",
          createdAt: version,
          at: version,
          version,
        }) as const;
      for (let i = 0; i < 50; i++) book.record(sync(`run_done_${i}`, "succeeded", i + 1), { open: true, limit: 5 });
      book.record(sync("run_live", "queued", 100), { open: true, limit: 5 });
      book.toStart();
      book.active(10);
      book.counts();
      book.admit(5);
      expect(plans.some((p) => p.includes("run_index_live"))).toBe(true);
      // Every read goes through the live runs' index, looks one run up by id, or reads the
      // never-admitted runs (those waiting, and the few cancelled while waiting) in admission
      // order. Anything else — a scan, or the admitted = 1 range of runs ever started — reads history.
      const reads = plans.filter((p) => /^(SCAN|SEARCH) run_index\b/.test(p));
      const bounded =
        /INDEX run_index_live |INDEX sqlite_autoindex_run_index_1 \(run_id=\?\)|INDEX run_index_waiting \(admitted=\?\) ← .*WHERE admitted = 0 /;
      expect(reads.filter((p) => !bounded.test(p))).toEqual([]);
    });
  });
});

describe("runs opened by the tenant before their object exists", () => {
  const opened = (runId: string) => ({
    runId,
    project: "p",
    blueprint: null,
    priority: "normal" as const,
    createdAt: Date.now(),
  });
  /** Makes the tenant's opened runs look older than the check interval, then runs its alarm. */
  async function checkOpenedRuns(tenant: string) {
    const stub = env.TENANT.getByName(tenant);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE run_index SET opened_at = opened_at - ? WHERE opened_at IS NOT NULL",
        OPENED_CHECK_MS + 1,
      );
    });
    await runDurableObjectAlarm(stub);
  }

  it("a run is created already running: the tenant lists it running before any status sync", async () => {
    const run = await createRun(sleepRun(1_000));
    expect(run.status).toBe("running");
    const list = (await (await api("/v1/runs")).json()) as { items: { id: string; status: string }[] };
    expect(list.items.find((r) => r.id === run.id)?.status).toBe("running");
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const after = (await (await api("/v1/runs")).json()) as { items: { id: string; status: string }[] };
    expect(after.items.find((r) => r.id === run.id)?.status).toBe("succeeded");
  });

  it("a run whose creation never happened gives its slot back once the tenant has asked after it", async () => {
    const key = await newTenantKey("acme");
    await setLimits("acme", { limits: { maxConcurrentRuns: 1 } });
    const tenant = env.TENANT.getByName("acme");
    // The request died between the tenant's call and the run's creation: a slot is taken.
    expect(await tenant.openRun(opened("run_0000000000phant0m000000000"))).toMatchObject({ ok: true, start: true });
    const waiting = await createRun(sleepRun(10), key);
    expect(waiting.status).toBe("queued");

    await checkOpenedRuns("acme");
    expect((await waitForRun(waiting.id, { key })).status).toBe("succeeded");
    const list = (await (await api("/v1/runs", { key })).json()) as { items: { id: string }[] };
    expect(list.items.map((r) => r.id)).toEqual([waiting.id]);
  });

  it("a run that exists but has not said a word since it opened is confirmed, not forgotten", async () => {
    const key = await newTenantKey("acme");
    const run = await createRun(sleepRun(3_000), key);
    await checkOpenedRuns("acme");
    const list = (await (await api("/v1/runs", { key })).json()) as { items: { id: string; status: string }[] };
    expect(list.items).toEqual([expect.objectContaining({ id: run.id, status: "running" })]);
    const unconfirmed = await runInDurableObject(
      env.TENANT.getByName("acme"),
      (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM run_index WHERE opened_at IS NOT NULL").one().n,
    );
    expect(unconfirmed).toBe(0);
  });
});
