import { reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

it("GET /v1/usage sums what finished runs recorded, by project and by day, for the caller's tenant only", async () => {
  const other = await newTenantKey("acme");
  const runs = [
    await createRun({ project: "billing", blueprint: "microservice", input: { name: "billing-api" } }),
    await createRun({ project: "billing", steps: [{ id: "f", type: "system.fail", input: { times: 1 } }] }),
    await createRun({ project: "ops", steps: [{ id: "x", type: "system.fail", input: { times: -1 } }] }),
  ];
  await createRun({ project: "secret", steps: [{ id: "a", type: "system.echo", input: {} }] }, other);
  await Promise.all(runs.map((r) => waitForRun(r.id)));

  const byProject = (await (await api("/v1/usage?groupBy=project")).json()) as {
    items: {
      key: string;
      runs: number;
      succeeded: number;
      failed: number;
      steps: number;
      attempts: number;
      artifactBytes: number;
      wallMs: number;
    }[];
  };
  const zip = ((await (await api(`/v1/runs/${runs[0]!.id}/artifacts`)).json()) as { items: { size: number }[] })
    .items[0]!.size;
  const metered = {
    wallMs: expect.any(Number),
    cpuMs: expect.any(Number),
    tokensIn: 0,
    tokensOut: 0,
    models: {},
    costUsd: expect.any(Number),
  };
  // Every attempt that reported: begin + report, its artifacts' R2 writes, and 3 queue operations
  // unless the run handed it straight back to the worker that reported the step before it.
  const queueOps = expect.any(Number);
  expect(byProject.items).toEqual([
    {
      key: "billing",
      runs: 2,
      succeeded: 2,
      failed: 0,
      steps: 7,
      attempts: 8,
      artifactBytes: zip,
      queueOps,
      objectCalls: 16,
      r2Writes: 1,
      ...metered,
    },
    {
      key: "ops",
      runs: 1,
      succeeded: 0,
      failed: 1,
      steps: 1,
      attempts: 1,
      artifactBytes: 0,
      queueOps: 3,
      objectCalls: 2,
      r2Writes: 0,
      ...metered,
    },
  ]);
  const billing = (byProject.items as unknown as { queueOps: number }[])[0]!.queueOps;
  expect(billing % 3).toBe(0);
  expect(billing).toBeGreaterThanOrEqual(3 * 3); // each run's first step, and the flaky step's retry, came by queue
  expect(billing).toBeLessThan(3 * 8);
  for (const row of byProject.items as unknown as { cpuMs: number; attempts: number }[])
    expect(row.cpuMs).toBeGreaterThanOrEqual(0.25 * row.attempts);
  const report = (await (await api("/v1/usage")).json()) as { totalCostUsd: number; items: { costUsd: number }[] };
  expect(report.totalCostUsd).toBeGreaterThan(0);
  expect(report.totalCostUsd).toBeCloseTo(
    report.items.reduce((n, r) => n + r.costUsd, 0),
    6,
  );
  const byBlueprint = (await (await api("/v1/usage?groupBy=blueprint")).json()) as {
    items: { key: string; runs: number }[];
  };
  expect(byBlueprint.items.map((r) => [r.key, r.runs])).toEqual([
    ["(steps)", 2],
    ["microservice", 1],
  ]);
  const byDay = (await (await api("/v1/usage?groupBy=day")).json()) as { items: { key: string; runs: number }[] };
  expect(byDay.items).toEqual([expect.objectContaining({ key: new Date().toISOString().slice(0, 10), runs: 3 })]);
  // By pool: the microservice's pipeline and repo steps and the system steps, each with its own share.
  const byPool = (await (await api("/v1/usage?groupBy=pool")).json()) as {
    items: { key: string; runs: number; attempts: number; artifactBytes: number; costUsd: number }[];
  };
  expect(byPool.items.map((r) => [r.key, r.runs, r.attempts, r.artifactBytes])).toEqual([
    ["pipeline", 1, 2, 0],
    ["repo", 1, 4, zip],
    ["system", 2, 3, 0],
  ]);
  expect(byPool.items.reduce((n, r) => n + r.costUsd, 0)).toBeCloseTo(report.totalCostUsd, 5);
  expect((await api("/v1/usage?from=yesterday")).status).toBe(400);
  expect((await api("/v1/usage?groupBy=tenant")).status).toBe(400);
});

it("GET /v1/metrics reports success rate, durations, retries and what is in flight, from recorded runs", async () => {
  const runs = [
    await createRun({ project: "p", blueprint: "microservice", input: { name: "m-api" } }),
    await createRun({ project: "p", steps: [{ id: "f", type: "system.fail", input: { times: 1 } }] }),
    await createRun({ project: "p", steps: [{ id: "x", type: "system.fail", input: { times: -1 } }] }),
  ];
  await Promise.all(runs.map((r) => waitForRun(r.id)));
  const m = (await (await api("/v1/metrics")).json()) as {
    runs: { finished: number; succeeded: number; failed: number };
    successRate: number;
    durationMs: { p50: number; p99: number };
    withinExpectedTime: number;
    retryRate: number;
    now: { running: number; waiting: number };
  };
  expect(m.runs).toMatchObject({ finished: 3, succeeded: 2, failed: 1 });
  expect(m.successRate).toBeCloseTo(2 / 3);
  expect(m.durationMs.p50).toBeGreaterThan(0);
  expect(m.durationMs.p99).toBeGreaterThanOrEqual(m.durationMs.p50);
  expect(m.withinExpectedTime).toBe(1); // the one blueprint run finished within its expected time
  expect(m.retryRate).toBeCloseTo(1 / 8); // 8 steps, one extra attempt
  expect(m.now).toEqual({ running: 0, waiting: 0 });
  expect(m).toMatchObject({
    pools: [],
    webhooks: { deliveries: { succeeded: 0, failed: 0, pending: 0 }, successRate: null, attempts: 0 },
  });
});

it("GET /v1/metrics shows each pool's backlog while runs are in flight", async () => {
  const run = await createRun({
    project: "p",
    steps: [
      { id: "slow", type: "system.sleep", input: { ms: 1_500 } },
      { id: "after", type: "system.echo", input: {}, dependsOn: ["slow"] },
    ],
  });
  let pools: { pool: string; queued: number; running: number; retrying: number }[] = [];
  for (let i = 0; i < 40 && pools.length === 0; i++) {
    pools = ((await (await api("/v1/metrics")).json()) as { pools: typeof pools }).pools;
    if (pools.length === 0) await new Promise((r) => setTimeout(r, 25));
  }
  expect(pools).toEqual([{ pool: "system", queued: expect.any(Number), running: expect.any(Number), retrying: 0 }]);
  expect(pools[0]!.queued + pools[0]!.running).toBe(1);
  await waitForRun(run.id);
  expect(((await (await api("/v1/metrics")).json()) as { pools: unknown[] }).pools).toEqual([]);
});

it("GET /v1/admin/metrics combines every tenant's runs; tenants never see each other's", async () => {
  const acme = await newTenantKey("acme-metrics");
  const mine = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] });
  const theirs = await createRun(
    { project: "q", steps: [{ id: "x", type: "system.fail", input: { times: -1 } }] },
    acme,
  );
  await waitForRun(mine.id);
  await waitForRun(theirs.id, { key: acme });
  const tenantView = (await (await api("/v1/metrics", { key: acme })).json()) as {
    runs: { finished: number };
    successRate: number;
  };
  expect(tenantView).toMatchObject({ runs: { finished: 1 }, successRate: 0 });
  const platform = await api("/v1/admin/metrics", { key: ADMIN_TOKEN });
  expect(platform.status).toBe(200);
  const p = (await platform.json()) as {
    tenants: number;
    runs: { finished: number; succeeded: number; failed: number };
    successRate: number;
    externalPools: Record<string, unknown>;
  };
  expect(p).toMatchObject({ tenants: 2, runs: { finished: 2, succeeded: 1, failed: 1 }, successRate: 0.5 });
  expect(p.externalPools).toHaveProperty("external");
  const tenants = (await (await api("/v1/admin/tenants", { key: ADMIN_TOKEN })).json()) as { items: string[] };
  expect(tenants.items).toEqual(["acme-metrics", "dev"]);
  expect((await api("/v1/admin/metrics", { key: acme })).status).toBe(401);
});

it("GET /v1/runs/{id}/usage gives one run's usage and cost, in total and per pool, matching the roll-ups", async () => {
  const run = await createRun({ project: "solo", blueprint: "microservice", input: { name: "solo-api" } });
  await waitForRun(run.id);
  const res = await api(`/v1/runs/${run.id}/usage`);
  expect(res.status).toBe(200);
  const u = (await res.json()) as {
    final: boolean;
    attempts: number;
    costUsd: number;
    cpuMs: number;
    pools: Record<string, { attempts: number; costUsd: number }>;
  };
  expect(u.final).toBe(true);
  expect(Object.keys(u.pools).sort()).toEqual(["pipeline", "repo"]);
  expect(Object.values(u.pools).reduce((n, p) => n + p.attempts, 0)).toBe(u.attempts);
  expect(Object.values(u.pools).reduce((n, p) => n + p.costUsd, 0)).toBeCloseTo(u.costUsd, 5);
  const project = (
    (await (await api("/v1/usage?groupBy=project")).json()) as {
      items: { key: string; attempts: number; costUsd: number }[];
    }
  ).items[0]!;
  expect(project).toMatchObject({ key: "solo", attempts: u.attempts, costUsd: u.costUsd });
  const other = await newTenantKey("peeker");
  expect((await api(`/v1/runs/${run.id}/usage`, { key: other })).status).toBe(404);
});
