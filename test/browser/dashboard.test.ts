/**
 * The dashboard in a real browser against the real runtime: sign in, submit a run, watch it
 * finish live, read its graph, timeline and events, download its artifact, see its cost, and
 * check that every figure the dashboard shows is the API's. Screenshots go to docs/screenshots.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDuration, formatPercent, formatUsd } from "../../dashboard/src/format";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { launch, openPage, type WatchedPage } from "./support/browser";

const SHOTS = join(import.meta.dirname, "..", "..", "docs", "screenshots");

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

const api = async <T>(path: string): Promise<T> => {
  const res = await rt.fetch(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
};

async function submitByApi(project: string, name: string): Promise<string> {
  const res = await rt.fetch("/v1/runs", { method: "POST", json: { project, blueprint: "microservice", input: { name } } });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  watched = await openPage(browser, rt.url);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("dashboard", () => {
  let runId = "";
  let retriedRunId = "";

  it("refuses a wrong key with the API's problem, then signs in with the right one", async () => {
    await page.goto("/");
    await page.getByLabel("API key").waitFor();
    await shot("sign-in");

    await page.getByLabel("API key").fill("frk_dev_000000000000_0000000000000000000000000000000000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(".error-title").textContent()).toContain("A valid API key is required");
    // The browser itself logs the refused request; that one is expected, nothing else is.
    expect(watched.problems.every((p) => p.includes("401"))).toBe(true);
    watched.problems.length = 0;

    await page.getByLabel("API key").fill(rt.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await page.getByText("No runs yet.").waitFor();
    // The key lives in sessionStorage only, and never in the URL.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([1, 0]);
    expect(page.url()).not.toContain(rt.key);
  });

  it("lists runs with filters and shows the sample runs' status", async () => {
    // A sample of runs in two projects, so usage has more than one row.
    const ids = await Promise.all([submitByApi("billing", "billing-api"), submitByApi("search", "search-api")]);
    await Promise.all(ids.map((id) => waitForRun(rt, id)));
    await page.getByRole("button", { name: "Refresh" }).click();
    for (const id of ids) await page.locator(`tr[data-run="${id}"] [data-status="succeeded"]`).waitFor();

    await page.getByLabel("Project").fill("billing");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("tr[data-run]").count()).toBe(1);
    await page.locator(`tr[data-run="${ids[0]}"]`).waitFor();
    await page.getByLabel("Project").fill("");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("tr[data-run]").count()).toBe(2);
  });

  it("submits a run from the form and watches it finish live, without a reload", async () => {
    await page.getByRole("link", { name: "New run" }).first().click();
    await page.getByLabel("Blueprint").selectOption("microservice");
    await page.getByLabel("Project").fill("demo");
    await page.getByLabel("Input (JSON)").fill(JSON.stringify({ name: "dashboard-demo", resources: ["invoices"] }, null, 2));
    // Hold the form's run back: one run at a time for the tenant, and a slower run (a step that
    // fails once, then retries, then a sleep) ahead of it. The dashboard must follow it live.
    const limits = await fetch(`${rt.url}/v1/admin/tenants/dev`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ limits: { maxConcurrentRuns: 1 } }),
    });
    expect(limits.status).toBe(200);
    const blocker = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "ops",
        steps: [
          { id: "flaky", type: "system.fail", input: { times: 1 }, retry: { maxAttempts: 2, initialDelayMs: 1000, maxDelayMs: 1000 } },
          { id: "hold", type: "system.sleep", input: { ms: 3000 }, dependsOn: ["flaky"] },
        ],
      },
    });
    expect(blocker.status).toBe(202);
    retriedRunId = ((await blocker.json()) as { id: string }).id;
    // A marker on the window: a full reload would lose it.
    await page.evaluate(() => Object.assign(globalThis, { __noReload: true }));
    await page.getByRole("button", { name: "Submit run" }).click();
    await page.waitForURL(/#\/runs\/run_[0-9a-z]{26}$/);
    runId = page.url().split("/").pop()!;

    await page.getByTestId("live").waitFor({ state: "visible" });
    expect(await page.locator('[data-testid="run-status"] .pill').getAttribute("data-status")).not.toBe("succeeded");
    await shot("run-live");
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
    await page.getByTestId("live").waitFor({ state: "hidden" });
    expect(await page.evaluate(() => (globalThis as { __noReload?: boolean }).__noReload)).toBe(true);

    const run = await api<{ status: string; steps: { id: string; status: string; attempts: number }[] }>(`/v1/runs/${runId}`);
    expect(run.status).toBe("succeeded");
    // The graph shows every step with the API's status; the timeline has a row per step.
    await expect.poll(() => page.locator(".dag-node").count()).toBe(run.steps.length);
    for (const s of run.steps) {
      expect(await page.locator(`.dag-node[data-step="${s.id}"] .pill`).getAttribute("data-status")).toBe(s.status);
      expect(await page.locator(`[data-testid="timings"] tr[data-step="${s.id}"] td`).nth(1).textContent()).toBe(String(s.attempts));
    }
    expect(await page.locator(".dag-edge").count()).toBeGreaterThan(0);
    // The event log is the API's, in order, with nothing missed or doubled by the live stream.
    const events = await api<{ items: { seq: number; type: string }[] }>(`/v1/runs/${runId}/events?limit=1000`);
    await expect.poll(() => page.locator('[data-testid="events"] tbody tr').count()).toBe(events.items.length);
    expect(await page.locator('[data-testid="events"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type")))).toEqual(events.items.map((e) => e.type));
    await page.locator('[data-testid="artifacts"]').waitFor();
    await shot("run-detail");
  });

  it("shows a retried attempt's failure and backoff on the timeline", async () => {
    await page.goto(`/#/runs/${retriedRunId}`);
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor();
    const flaky = page.locator('[data-testid="timings"] tr[data-step="flaky"] td');
    await expect.poll(() => flaky.nth(1).textContent()).toBe("2");
    expect(await flaky.nth(4).textContent()).not.toBe("—");
    await page.getByRole("heading", { name: "Timeline" }).evaluate((el) => el.closest("section")?.scrollIntoView({ block: "start" }));
    await shot("run-timeline");
    await page.goto(`/#/runs/${runId}`);
    await page.locator('[data-testid="artifacts"]').waitFor();
  });

  it("downloads an artifact with exactly the API's bytes", async () => {
    const { items } = await api<{ items: { name: string; size: number; sha256: string }[] }>(`/v1/runs/${runId}/artifacts`);
    expect(items.length).toBeGreaterThan(0);
    const artifact = items[0]!;
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator(`tr[data-artifact="${artifact.name}"] button`).click()]);
    expect(download.suggestedFilename()).toBe(artifact.name);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.length).toBe(artifact.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(artifact.sha256);
  });

  it("shows usage, cost and SLA figures equal to the API's", async () => {
    await page.getByRole("link", { name: "Usage & SLA" }).click();
    await page.getByTestId("usage-total-cost").waitFor();
    type Usage = { totalCostUsd: number; items: { key: string; runs: number; costUsd: number }[] };
    type Metrics = {
      successRate: number | null;
      durationMs: { p50: number | null; p95: number | null; p99: number | null };
      withinExpectedTime: number | null;
      retryRate: number | null;
      pools?: { pool: string; backlog: number }[];
      webhooks?: { successRate: number | null };
    };
    const [usage, metrics] = await Promise.all([api<Usage>("/v1/usage?groupBy=project"), api<Metrics>("/v1/metrics")]);

    // The cost of the run submitted from the form has appeared, and every figure is the API's.
    const demo = usage.items.find((r) => r.key === "demo");
    expect(demo?.costUsd).toBeGreaterThan(0);
    expect(usage.items.map((r) => r.key).sort()).toEqual(["billing", "demo", "ops", "search"]);
    const figure = async (id: string) => {
      const el = page.getByTestId(id);
      return { text: await el.textContent(), value: await el.getAttribute("data-value") };
    };
    expect(await figure("usage-total-cost")).toEqual({ text: formatUsd(usage.totalCostUsd), value: String(usage.totalCostUsd) });
    for (const row of usage.items) {
      const cell = page.locator(`tr[data-project="${row.key}"] [data-testid="project-cost"]`);
      expect(await cell.textContent()).toBe(formatUsd(row.costUsd));
      expect(Number(await cell.getAttribute("data-value"))).toBe(row.costUsd);
    }
    expect(await figure("usage-runs")).toEqual({ text: String(usage.items.reduce((n, r) => n + r.runs, 0)), value: "4" });
    expect((await figure("sla-success-rate")).text).toBe(formatPercent(metrics.successRate));
    expect(Number((await figure("sla-success-rate")).value)).toBe(metrics.successRate);
    expect((await figure("sla-p50")).text).toBe(formatDuration(metrics.durationMs.p50));
    expect((await figure("sla-p95")).text).toBe(formatDuration(metrics.durationMs.p95));
    expect((await figure("sla-p99")).text).toBe(formatDuration(metrics.durationMs.p99));
    expect((await figure("sla-within-expected")).text).toBe(formatPercent(metrics.withinExpectedTime));

    // Pool backlog and webhook figures: shown when the runtime reports them, "no data" when not.
    if (metrics.pools) {
      for (const p of metrics.pools) expect(await page.locator(`[data-testid="pools"] tr[data-pool="${p.pool}"] td.num`).getAttribute("data-value")).toBe(String(p.backlog));
    } else {
      await page.getByTestId("pools").getByText("No data.").waitFor();
    }
    expect((await figure("sla-webhooks")).text).toBe(metrics.webhooks ? formatPercent(metrics.webhooks.successRate) : "—");

    await expect.poll(() => page.locator('[data-testid="cost-by-day"] canvas').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid="cost-by-project"] canvas').count()).toBe(1);
    await shot("usage");
    console.log(`sample of 4 runs (3 microservice, 1 with a retry): usage ${JSON.stringify(usage.items)} total $${usage.totalCostUsd}; SLA ${JSON.stringify(metrics)}`);
  });

  it("signs out: the key is gone from storage and the sign-in form is back", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
    await page.reload();
    await page.getByLabel("API key").waitFor();
  });

  it("logged no console errors and threw no page errors", () => {
    expect(watched.problems).toEqual([]);
  });
});
