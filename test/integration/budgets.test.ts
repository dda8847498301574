import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { BudgetReport } from "../../schema/budgets";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const setBudgets = (tenant: string, body: unknown) =>
  api(`/v1/admin/tenants/${tenant}/budgets`, { method: "PUT", key: ADMIN_TOKEN, json: body });
const report = async (key: string, month?: string) =>
  (await (await api(`/v1/budgets${month ? `?month=${month}` : ""}`, { key })).json()) as BudgetReport;

/** Polls until the tenant has charged `runs` runs (a run's final sync reaches its tenant just after it ends). */
async function charged(key: string, predicate: (r: BudgetReport) => boolean): Promise<BudgetReport> {
  for (const deadline = Date.now() + 10_000; ; ) {
    const r = await report(key);
    if (predicate(r)) return r;
    if (Date.now() > deadline) throw new Error(`budget never matched: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/**
 * One agent step whose prompt is 24,000 characters: the offline provider counts 6,000 tokens in,
 * $0.003 at the default price of $0.50 a million, plus a few millionths for the attempt.
 */
const costly = (project = "p") => ({
  project,
  steps: [{ id: "gen", type: "agent.generate", input: { prompt: "x".repeat(24_000), maxTokens: 16 } }],
});
const cheap = (project = "p") => ({ project, steps: [{ id: "a", type: "system.hash", input: {} }] });

describe("cost budgets", () => {
  it("a $0.01 budget with block: thresholds cross once each, delivered to the subscribed webhook, then 429 budget.exceeded", async () => {
    const key = await newTenantKey("acme");
    const set = await setBudgets("acme", { monthlyUsd: 0.01, thresholds: [0.5, 0.8, 1], onExceeded: "block" });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ tenant: { limitUsd: 0.01, spentUsd: 0 }, action: "none" });
    const hook = (await (
      await api("/v1/webhooks", {
        method: "POST",
        key,
        json: { url: "https://hooks.example.com/budget", eventTypes: ["budget.threshold_crossed"] },
      })
    ).json()) as { id: string };

    const crossedAfter: number[][] = [];
    for (let i = 1; i <= 4; i++) {
      const run = await createRun(costly(), key);
      expect((await waitForRun(run.id, { key })).status).toBe("succeeded");
      const r = await charged(key, (b) => (b.tenant?.spentUsd ?? 0) >= 0.003 * i);
      crossedAfter.push(r.tenant!.thresholdsCrossed);
    }
    expect(crossedAfter).toEqual([[], [0.5], [0.5, 0.8], [0.5, 0.8, 1]]);

    const refused = await api("/v1/runs", { method: "POST", key, json: cheap() });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const problem = (await refused.json()) as { code: string; budget: Record<string, unknown> };
    expect(problem.code).toBe("budget.exceeded");
    expect(problem.budget).toEqual({
      month: new Date().toISOString().slice(0, 7),
      project: null,
      limitUsd: 0.01,
      spentUsd: expect.any(Number),
    });
    expect(problem.budget.spentUsd as number).toBeGreaterThanOrEqual(0.01);

    // The refusals did not count against the monthly run quota: raising the budget lets runs in again.
    const before = (await (await api("/v1/admin/tenants/acme", { key: ADMIN_TOKEN })).json()) as {
      limits: { monthlyRuns: number };
    };
    await api("/v1/admin/tenants/acme", { method: "PATCH", key: ADMIN_TOKEN, json: { limits: { monthlyRuns: 5 } } });
    await setBudgets("acme", { monthlyUsd: 1, onExceeded: "block" });
    expect((await createRun(cheap(), key)).status).toBe("running");
    expect(before.limits.monthlyRuns).toBeGreaterThan(5);

    // Each threshold once, to the endpoint that asked for them.
    const deliveries = (await (await api(`/v1/webhooks/${hook.id}/deliveries?limit=100`, { key })).json()) as {
      items: { eventType: string; eventId: string }[];
    };
    expect(deliveries.items.map((d) => d.eventId).sort()).toEqual(
      ["0.5", "0.8", "1"].map((t) => `evt_budget_${new Date().toISOString().slice(0, 7)}___${t}`),
    );
    expect(new Set(deliveries.items.map((d) => d.eventType))).toEqual(new Set(["budget.threshold_crossed"]));
  }, 60_000);

  it("overshoot is bounded by the runs admitted before the budget was spent; every later run is refused", async () => {
    const key = await newTenantKey("acme");
    await api("/v1/admin/tenants/acme", {
      method: "PATCH",
      key: ADMIN_TOKEN,
      json: { limits: { maxConcurrentRuns: 3 } },
    });
    // Any run spends this budget: the ones admitted while nothing was spent still all finish.
    await setBudgets("acme", { monthlyUsd: 0.000001, onExceeded: "block" });
    const admitted = await Promise.all(Array.from({ length: 5 }, () => createRun(cheap(), key)));
    const done = await Promise.all(admitted.map((r) => waitForRun(r.id, { key })));
    expect(done.every((r) => r.status === "succeeded")).toBe(true);
    const r = await charged(key, (b) => b.tenant!.exceeded);
    const refused = await api("/v1/runs", { method: "POST", key, json: cheap() });
    expect(refused.status).toBe(429);
    // Spent: what the admitted runs cost (each priced alone, to a millionth), no more. The bound
    // is those runs; it is documented in docs/budgets-and-breakers.md.
    const usage = async () =>
      (
        (await (await api("/v1/usage?groupBy=project", { key })).json()) as {
          items: { runs: number; costUsd: number }[];
        }
      ).items[0];
    for (const deadline = Date.now() + 10_000; (await usage())?.runs !== 5 && Date.now() < deadline; )
      await new Promise((res) => setTimeout(res, 25));
    const total = (await usage())!;
    const final = await charged(key, (b) => Math.abs(b.tenant!.spentUsd - total.costUsd) <= 5 * 1e-6);
    expect(final.tenant!.spentUsd).toBeGreaterThan(r.tenant!.limitUsd);
    expect(total.runs).toBe(5);
  }, 60_000);

  it("per-project budgets: a spent project is refused while the others run; cost-saving admits at low priority with the cheaper model", async () => {
    const key = await newTenantKey("acme");
    await setBudgets("acme", {
      monthlyUsd: 100,
      projects: { spendy: 0.000001 },
      onExceeded: "cost-saving",
      costSavingModel: "cheap-1",
    });
    await waitForRun((await createRun(cheap("spendy"), key)).id, { key });
    await charged(key, (b) => b.projects[0]!.exceeded);
    const other = await createRun(cheap("other"), key);
    expect(other.priority).toBe("normal");

    const saving = await createRun(costly("spendy"), key);
    expect(saving.priority).toBe("low");
    const done = await waitForRun(saving.id, { key });
    expect(done.status).toBe("succeeded");
    const step = done.steps[0]! as unknown as { output: { model: string } };
    expect(step.output.model).toBe("cheap-1");
    const r = await report(key);
    expect(r.action).toBe("cost-saving");

    // Half the concurrency: of two slots, one is left while the budget is spent.
    await api("/v1/admin/tenants/acme", {
      method: "PATCH",
      key: ADMIN_TOKEN,
      json: { limits: { maxConcurrentRuns: 2 } },
    });
    const nap = { project: "spendy", steps: [{ id: "n", type: "system.sleep", input: { ms: 500 } }] };
    const [first, second] = [await createRun(nap, key), await createRun(nap, key)];
    expect([first.status, second.status]).toEqual(["running", "queued"]);
    expect((await waitForRun(second.id, { key })).status).toBe("succeeded");
    expect(r.projects.map((p) => [p.project, p.exceeded])).toEqual([["spendy", true]]);
  }, 60_000);

  it("a budget lowered below spending applies to the next run; month rollover starts from zero", async () => {
    const key = await newTenantKey("acme");
    await setBudgets("acme", { monthlyUsd: 10, thresholds: [0.5], onExceeded: "block" });
    await waitForRun((await createRun(cheap(), key)).id, { key });
    const spent = (await charged(key, (b) => b.tenant!.spentUsd > 0)).tenant!.spentUsd;
    expect((await createRun(cheap(), key)).status).toBe("running");
    await setBudgets("acme", { monthlyUsd: spent / 2, thresholds: [0.5], onExceeded: "block" });
    expect((await api("/v1/runs", { method: "POST", key, json: cheap() })).status).toBe(429);
    // Lowering it crossed its threshold at once; raising it again crosses nothing twice.
    expect((await report(key)).tenant!.thresholdsCrossed).toEqual([0.5]);
    await setBudgets("acme", { monthlyUsd: 10, thresholds: [0.5], onExceeded: "block" });

    // A run that ends next month is charged there: that month starts with nothing crossed.
    const now = new Date();
    const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) + 1_000;
    const month = new Date(next).toISOString().slice(0, 7);
    const usage = { steps: 1, attempts: 1, wallMs: 1, cpuMs: 0, artifactBytes: 0, tokensIn: 0, tokensOut: 0 };
    await env.TENANT.getByName("acme").recordRun({
      runId: "run_nextmonth",
      project: "p",
      blueprint: null,
      status: "succeeded",
      priority: "normal",
      createdAt: next - 100,
      at: next,
      version: 5,
      usage: { ...usage, queueOps: 0, objectCalls: 0, r2Writes: 0, models: {}, pools: {} },
    });
    const later = await report(key, month);
    expect(later.tenant).toMatchObject({ spentUsd: 0.000002, committedUsd: 0, thresholdsCrossed: [] });
    expect((await report(key)).tenant!.thresholdsCrossed).toEqual([0.5]);
  }, 60_000);

  it("bad budgets are refused with problem+json and change nothing", async () => {
    const key = await newTenantKey("acme");
    await setBudgets("acme", { monthlyUsd: 5, onExceeded: "notify" });
    for (const bad of [
      { monthlyUsd: -1, onExceeded: "block" },
      { monthlyUsd: 1e12, onExceeded: "block" },
      { monthlyUsd: "ten", onExceeded: "block" },
      { monthlyUsd: 1, onExceeded: "panic" },
      { monthlyUsd: 1, thresholds: [], onExceeded: "block" },
      { monthlyUsd: 1, thresholds: [0], onExceeded: "block" },
      { monthlyUsd: 1, thresholds: [0.5, 0.5], onExceeded: "block" },
      { monthlyUsd: 1, projects: { "bad project": 1 }, onExceeded: "block" },
      { monthlyUsd: 1, projects: { p: -2 }, onExceeded: "block" },
      { monthlyUsd: 1, onExceeded: "block", extra: true },
    ]) {
      const res = await setBudgets("acme", bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("request.invalid");
    }
    expect((await report(key)).policy).toMatchObject({ monthlyUsd: 5, onExceeded: "notify" });
    expect((await setBudgets("nobody", { monthlyUsd: 1, onExceeded: "block" })).status).toBe(404);
    expect((await api("/v1/budgets?month=2026-13", { key })).status).toBe(400);
  });
});
