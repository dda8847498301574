/**
 * The dashboard in a real browser against the real runtime: sign in, submit a run, watch it
 * finish live, read its graph, timeline and events, download its artifact, see its cost, and
 * check that every figure the dashboard shows is the API's. Screenshots go to docs/screenshots.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDuration, formatPercent, formatUsd } from "../../dashboard/src/format";
import { plantedSecrets } from "../../src/data/jobs/planted";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { active, checkPage } from "./support/a11y";
import { launch, openPage, type WatchedPage } from "./support/browser";

const SHOTS = join(import.meta.dirname, "..", "..", "docs", "screenshots");

let rt: Runtime;
let browser: Browser;
let receiver: Server;
let watched: WatchedPage;
let page: Page;

const api = async <T>(path: string): Promise<T> => {
  const res = await rt.fetch(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
};

async function submitByApi(project: string, name: string): Promise<string> {
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project, blueprint: "microservice", input: { name } },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Chromium logs a refused request as a console error: expected right after one, nothing else is. */
function expectOnlyRefusedRequest(status: number): void {
  expect(watched.problems).toHaveLength(1);
  expect(watched.problems[0]).toContain(`Failed to load resource: the server responded with a status of ${status} `);
  watched.problems.length = 0;
}

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

beforeAll(async () => {
  // A webhook receiver that accepts every delivery, so the webhook figures have something to count.
  receiver = createServer((req, res) => req.resume().on("end", () => res.writeHead(204).end()));
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  const hook = await rt.fetch("/v1/webhooks", {
    method: "POST",
    json: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, eventTypes: ["run.*"] },
  });
  expect(hook.status).toBe(201);
  watched = await openPage(browser, rt.url);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
  receiver?.close();
});

describe("dashboard", () => {
  let runId = "";
  let retriedRunId = "";

  it("refuses a wrong key with the API's problem, then signs in with the right one", async () => {
    const index = await page.goto("/");
    // The UI is the Worker's static assets, with the security headers of dashboard/static/_headers.
    const headers = index!.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self';");
    expect(headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect([headers["x-content-type-options"], headers["referrer-policy"]]).toEqual(["nosniff", "no-referrer"]);
    await page.getByLabel("API key").waitFor();
    await shot("sign-in");
    expect(await page.title()).toBe("Sign in · Factory Runtime");
    await checkPage(page, "sign-in");

    await page.getByLabel("API key").fill("frk_dev_000000000000_0000000000000000000000000000000000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(".error-title").textContent()).toContain("A valid API key is required");
    expectOnlyRefusedRequest(401);

    await page.getByLabel("API key").fill(rt.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await page.getByText("No runs yet.").waitFor();
    // The key lives in sessionStorage only, and never in the URL.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([1, 0]);
    expect(page.url()).not.toContain(rt.key);
    // Its own title, focus on its heading, and the change read out.
    expect(await page.title()).toBe("Runs · Factory Runtime");
    expect((await active(page)).tag).toBe("H1");
    await expect.poll(() => page.locator("#announcer").textContent()).toBe("Runs page");
    await checkPage(page, "runs (empty)");
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
    await shot("runs");
    await checkPage(page, "runs", "runs");
  });

  it("submits a run from the form and watches it finish live, without a reload", async () => {
    await page.getByRole("link", { name: "New run" }).first().click();
    await page.getByLabel("Blueprint").selectOption("microservice");
    await page.getByLabel("Project").fill("demo");
    // An input the blueprint refuses: the API's problem (title and detail) is shown, nothing is created.
    await page.getByLabel("Input (JSON)").fill(JSON.stringify({ name: "Not A Slug!" }));
    await page.getByRole("button", { name: "Submit run" }).click();
    await expect.poll(() => page.locator(".error-title").textContent()).toBeTruthy();
    expect(page.url()).toMatch(/#\/new$/);
    expect(await page.locator(".error-fields").textContent()).toContain("input.name");
    expectOnlyRefusedRequest(422);
    await shot("new-run");
    await checkPage(page, "new run (refused input)");
    await page
      .getByLabel("Input (JSON)")
      .fill(JSON.stringify({ name: "dashboard-demo", resources: ["invoices"] }, null, 2));
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
          {
            id: "flaky",
            type: "system.fail",
            input: { times: 1 },
            retry: { maxAttempts: 2, initialDelayMs: 1000, maxDelayMs: 1000 },
          },
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
    expect(await page.title()).toMatch(new RegExp(`^Run ${runId.slice(0, 10)}… · demo · Factory Runtime$`));
    await checkPage(page, "run (live)");
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
    await page.getByTestId("live").waitFor({ state: "hidden" });
    expect(await page.evaluate(() => (globalThis as { __noReload?: boolean }).__noReload)).toBe(true);

    const run = await api<{ status: string; steps: { id: string; status: string; attempts: number }[] }>(
      `/v1/runs/${runId}`,
    );
    expect(run.status).toBe("succeeded");
    // The graph shows every step with the API's status; the timeline has a row per step.
    await expect.poll(() => page.locator(".dag-node").count()).toBe(run.steps.length);
    for (const s of run.steps) {
      expect(await page.locator(`.dag-node[data-step="${s.id}"] .pill`).getAttribute("data-status")).toBe(s.status);
      expect(await page.locator(`[data-testid="timings"] tr[data-step="${s.id}"] td`).nth(1).textContent()).toBe(
        String(s.attempts),
      );
    }
    expect(await page.locator(".dag-edge").count()).toBeGreaterThan(0);
    // The event log is the API's, in order, with nothing missed or doubled by the live stream.
    const events = await api<{ items: { seq: number; type: string }[] }>(`/v1/runs/${runId}/events?limit=1000`);
    await expect.poll(() => page.locator('[data-testid="events"] tbody tr').count()).toBe(events.items.length);
    expect(
      await page
        .locator('[data-testid="events"] tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type"))),
    ).toEqual(events.items.map((e) => e.type));
    await page.locator('[data-testid="artifacts"]').waitFor();
    // The run's cost appears once it has ended, and it is the API's.
    const usage = await api<{ final: boolean; costUsd: number; attempts: number }>(`/v1/runs/${runId}/usage`);
    expect(usage.final).toBe(true);
    expect(usage.costUsd).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId("run-cost").getAttribute("data-value")).toBe(String(usage.costUsd));
    expect(await page.getByTestId("run-cost").textContent()).toBe(formatUsd(usage.costUsd));
    expect(await page.getByTestId("run-attempts").textContent()).toBe(String(usage.attempts));
    await shot("run-detail");
    await checkPage(page, "run (finished)", "run-detail");
  });

  it("shows a retried attempt's failure and backoff on the timeline", async () => {
    await page.goto(`/#/runs/${retriedRunId}`);
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor();
    // What started the run (its origin): this one, the API.
    const startedBy = page.locator(".field", { has: page.locator("dt", { hasText: "Started by" }) }).locator("dd");
    expect(await startedBy.textContent()).toBe("the API");
    const flaky = page.locator('[data-testid="timings"] tr[data-step="flaky"] td');
    await expect.poll(() => flaky.nth(1).textContent()).toBe("2");
    expect(await flaky.nth(4).textContent()).not.toBe("—");
    await page
      .getByRole("heading", { name: "Timeline" })
      .evaluate((el) => el.closest("section")?.scrollIntoView({ block: "start" }));
    await shot("run-timeline");
    await checkPage(page, "run (retried step)");
    await page.goto(`/#/runs/${runId}`);
    await page.locator('[data-testid="artifacts"]').waitFor();
  });

  it("downloads an artifact with exactly the API's bytes", async () => {
    const { items } = await api<{ items: { name: string; size: number; sha256: string }[] }>(
      `/v1/runs/${runId}/artifacts`,
    );
    expect(items.length).toBeGreaterThan(0);
    const artifact = items[0]!;
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.locator(`tr[data-artifact="${artifact.name}"] button`).click(),
    ]);
    expect(download.suggestedFilename()).toBe(artifact.name);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.length).toBe(artifact.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(artifact.sha256);
  });

  it("marks an archived run in the list and on its page, and offers no retry of it", async () => {
    // The archival itself (hot period over, object emptied, reads served from R2) is tested in
    // workerd (test/integration/archive.test.ts); the runtime here keeps runs hot for 7 days, so
    // its own answers for this run are marked archived on their way to the page.
    const archivedAt = new Date().toISOString();
    const mark = async (route: Route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { id?: string; items?: { id: string }[] };
      const json = body.items
        ? { ...body, items: body.items.map((r) => (r.id === runId ? { ...r, archivedAt } : r)) }
        : { ...body, archivedAt };
      await route.fulfill({ response: res, json });
    };
    const runPath = new RegExp(`/v1/runs/${runId}$`);
    const listPath = /\/v1\/runs(\?.*)?$/;
    await page.route(runPath, mark);
    await page.route(listPath, mark);
    try {
      // From the list (the page may be on this run already, and a hash it holds is no navigation).
      await page.goto("/#/runs");
      await page.locator(`tr[data-run="${runId}"] [data-status="archived"]`).waitFor();
      expect(await page.locator('tr[data-run] [data-status="archived"]').count()).toBe(1);
      await page.locator(`tr[data-run="${runId}"] a`).click();
      await page.getByTestId("run-archived").waitFor();
      expect(await page.locator('[data-testid="run-archived"] .pill').getAttribute("data-status")).toBe("archived");
      expect(await page.locator("[data-action]").count()).toBe(0);
      await shot("run-archived");
      await checkPage(page, "run (archived)");
    } finally {
      await page.unroute(runPath, mark);
      await page.unroute(listPath, mark);
    }
  });

  it("shows usage, cost, SLA, pool and webhook figures equal to the API's", async () => {
    // A run that keeps a step running, so the pools panel has a backlog to show.
    const sleeper = await rt.fetch("/v1/runs", {
      method: "POST",
      json: { project: "ops", steps: [{ id: "nap", type: "system.sleep", input: { ms: 60_000 } }] },
    });
    expect(sleeper.status).toBe(202);
    const sleeperId = ((await sleeper.json()) as { id: string }).id;
    type Metrics = {
      successRate: number | null;
      durationMs: { p50: number | null; p95: number | null; p99: number | null };
      withinExpectedTime: number | null;
      retryRate: number | null;
      now: { running: number; waiting: number };
      pools: { pool: string; queued: number; running: number; retrying: number }[];
      webhooks: { deliveries: { succeeded: number; failed: number; pending: number }; successRate: number | null };
    };
    // Wait for a settled state: the sleeper running, every webhook delivery done.
    await expect
      .poll(
        async () => {
          const m = await api<Metrics>("/v1/metrics");
          return (
            m.pools.some((p) => p.pool === "system" && p.running === 1) &&
            m.webhooks.deliveries.pending === 0 &&
            m.webhooks.deliveries.succeeded > 0
          );
        },
        { timeout: 30_000 },
      )
      .toBe(true);

    await page.getByRole("link", { name: "Usage & SLA" }).click();
    await page.getByTestId("usage-total-cost").waitFor();
    type Usage = { totalCostUsd: number; items: { key: string; runs: number; attempts: number; costUsd: number }[] };
    const [usage, byPool, metrics] = await Promise.all([
      api<Usage>("/v1/usage?groupBy=project"),
      api<Usage>("/v1/usage?groupBy=pool"),
      api<Metrics>("/v1/metrics"),
    ]);

    // The cost of the run submitted from the form has appeared, and every figure is the API's.
    const demo = usage.items.find((r) => r.key === "demo");
    expect(demo?.costUsd).toBeGreaterThan(0);
    expect(usage.items.map((r) => r.key).sort()).toEqual(["billing", "demo", "ops", "search"]);
    const figure = async (id: string) => {
      const el = page.getByTestId(id);
      return { text: await el.textContent(), value: await el.getAttribute("data-value") };
    };
    expect(await figure("usage-total-cost")).toEqual({
      text: formatUsd(usage.totalCostUsd),
      value: String(usage.totalCostUsd),
    });
    for (const row of usage.items) {
      const cell = page.locator(`tr[data-project="${row.key}"] [data-testid="project-cost"]`);
      expect(await cell.textContent()).toBe(formatUsd(row.costUsd));
      expect(Number(await cell.getAttribute("data-value"))).toBe(row.costUsd);
    }
    expect(await figure("usage-runs")).toEqual({ text: "4", value: "4" });
    expect(await figure("sla-success-rate")).toEqual({
      text: formatPercent(metrics.successRate),
      value: String(metrics.successRate),
    });
    expect((await figure("sla-p50")).text).toBe(formatDuration(metrics.durationMs.p50));
    expect((await figure("sla-p95")).text).toBe(formatDuration(metrics.durationMs.p95));
    expect((await figure("sla-p99")).text).toBe(formatDuration(metrics.durationMs.p99));
    expect((await figure("sla-within-expected")).text).toBe(formatPercent(metrics.withinExpectedTime));
    expect((await figure("sla-now")).text).toBe(`${metrics.now.running} / ${metrics.now.waiting}`);
    expect(await figure("sla-webhooks")).toEqual({
      text: formatPercent(metrics.webhooks.successRate),
      value: String(metrics.webhooks.successRate),
    });

    // Pools: the backlog now (the sleeper's step) and each pool's usage in the window.
    for (const p of metrics.pools) {
      const row = page.locator(`[data-testid="pools"] tr[data-pool="${p.pool}"]`);
      for (const f of ["queued", "running", "retrying"] as const)
        expect(await row.locator(`[data-field="${f}"]`).textContent()).toBe(String(p[f]));
    }
    for (const u of byPool.items) {
      const row = page.locator(`[data-testid="pools"] tr[data-pool="${u.key}"]`);
      expect(await row.locator('[data-field="attempts"]').textContent()).toBe(String(u.attempts));
      expect(Number(await row.locator('[data-field="cost"]').getAttribute("data-value"))).toBe(u.costUsd);
    }
    await page.locator('[data-testid="pools"] canvas').waitFor();
    await expect.poll(() => page.locator('[data-testid="cost-by-day"] canvas').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid="cost-by-project"] canvas').count()).toBe(1);
    await shot("usage");
    await page.getByTestId("pools").evaluate((el) => el.scrollIntoView({ block: "end" }));
    await shot("usage-pools");
    await checkPage(page, "usage");

    expect((await rt.fetch(`/v1/runs/${sleeperId}/cancel`, { method: "POST" })).status).toBe(200);
  });

  it("shows each artifact's status and a rejected artifact's findings (rule, file, line), never the secret", async () => {
    await page.goto(`/#/runs/${runId}`);
    await page.locator('[data-testid="artifacts"]').waitFor();
    expect(await page.locator("tr[data-artifact]").first().getAttribute("data-status")).toBe("published");

    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      json: { project: "leaky", steps: [{ id: "leak", type: "system.secrets", input: {} }] },
    });
    const leakyId = ((await created.json()) as { id: string }).id;
    await page.goto(`/#/runs/${leakyId}`);
    await page.locator('[data-testid="run-status"] [data-status="failed"]').waitFor({ timeout: 30_000 });
    const row = page.locator('tr[data-artifact="secrets.zip"]');
    await row.waitFor();
    expect(await row.getAttribute("data-status")).toBe("rejected");
    const { items } = await api<{ items: { scan: { findings: { ruleId: string; file: string; line: number }[] } }[] }>(
      `/v1/runs/${leakyId}/artifacts`,
    );
    const findings = items[0]!.scan.findings;
    await expect.poll(() => row.locator(".findings li[data-rule]").count()).toBe(Math.min(findings.length, 10));
    expect(await row.locator(".findings").textContent()).toContain("fixture/config/aws.env:3:19");
    expect(await row.locator("button").count()).toBe(0); // nothing to download
    const html = await page.content();
    for (const p of plantedSecrets()) expect(html.includes(p.secret), p.ruleId).toBe(false);
    await row.scrollIntoViewIfNeeded();
    await shot("run-artifact-rejected");
    await checkPage(page, "run (rejected artifact)");
  });

  it("shows a project's artifact versions, linked from the run page, and the diff of the latest two", async () => {
    const ids: string[] = [];
    for (const resources of [["invoices"], ["invoices", "customers"]]) {
      const res = await rt.fetch("/v1/runs", {
        method: "POST",
        json: { project: "versions", blueprint: "microservice", input: { name: "vsvc", resources } },
      });
      const id = ((await res.json()) as { id: string }).id;
      expect((await waitForRun(rt, id)).status).toBe("succeeded");
      ids.push(id);
    }
    await expect
      .poll(
        async () => (await api<{ items: unknown[] }>("/v1/projects/versions/artifacts/vsvc.zip/versions")).items.length,
      )
      .toBe(2);
    await page.goto(`/#/runs/${ids[1]}`);
    await page.locator('tr[data-artifact="vsvc.zip"] a').click();
    await page.waitForURL(/#\/projects\/versions\/artifacts\/vsvc\.zip$/);
    await page.locator('[data-testid="versions"]').waitFor();
    expect(
      await page
        .locator('[data-testid="versions"] tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [r.getAttribute("data-version"), r.querySelector(".pill")?.textContent]),
        ),
    ).toEqual([
      ["2", "published"],
      ["1", "superseded"],
    ]);
    const diff = await api<{ changed: { path: string }[]; added: unknown[]; removed: unknown[] }>(
      "/v1/projects/versions/artifacts/vsvc.zip/versions/2/diff?against=1",
    );
    await expect
      .poll(() => page.locator('[data-testid="diff"] tr[data-change]').count())
      .toBe(diff.changed.length + diff.added.length + diff.removed.length);
    expect(await page.locator('[data-testid="diff"]').textContent()).toContain("vsvc/src/app.ts");
    await shot("artifact-versions");
    expect(await page.title()).toBe("vsvc.zip · versions · Factory Runtime");
    await checkPage(page, "artifact versions");
  });

  it("shows the month's budgets as bars with their thresholds marked, the retention policy and storage held, and the dependencies' breakers", async () => {
    const admin = { authorization: `Bearer ${rt.adminToken}` };
    const set = await rt.fetch("/v1/admin/tenants/dev/budgets", {
      method: "PUT",
      headers: admin,
      json: {
        monthlyUsd: 1,
        projects: { billing: 0.000001, demo: 1 },
        thresholds: [0.5, 0.8, 1],
        onExceeded: "notify",
      },
    });
    expect(set.status).toBe(200);
    // A dependency whose breaker opens and closes: one step of a job that declares it, failing for a moment.
    const breaker = await rt.fetch("/v1/admin/breakers/diagnostic-upstream", {
      method: "PUT",
      headers: admin,
      json: {
        failureThreshold: 1,
        failureRate: 1,
        windowMs: 60_000,
        minRequests: 100,
        cooldownMs: 200,
        jitter: 0,
        probes: 1,
      },
    });
    expect(breaker.status).toBe(200);
    const flaky = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "ops",
        steps: [{ id: "up", type: "system.upstream", input: { failUntil: Date.now() + 2_000 } }],
      },
    });
    expect((await waitForRun(rt, ((await flaky.json()) as { id: string }).id)).status).toBe("succeeded");

    // The Usage page, loaded now: the earlier tests leave the browser elsewhere.
    await page.goto("/#/usage");
    await page.getByTestId("budget-tenant").waitFor();
    type Line = { spentUsd: number; limitUsd: number; exceeded: boolean; thresholdsCrossed: number[] };
    const report = await api<{ tenant: Line; projects: (Line & { project: string })[] }>("/v1/budgets");
    const bar = page.getByTestId("budget-tenant");
    expect(Number(await bar.getAttribute("data-spent"))).toBe(report.tenant.spentUsd);
    expect(Number(await bar.getAttribute("data-limit"))).toBe(1);
    // Thresholds at 50, 80 and 100 % of the bar (what is spent is far below the limit here).
    expect(
      await bar.getByTestId("budget-threshold").evaluateAll((els) => els.map((e) => e.getAttribute("data-x"))),
    ).toEqual(["50.00", "80.00", "100.00"]);
    expect(report.projects.map((p) => [p.project, p.exceeded])).toEqual([
      ["billing", true],
      ["demo", false],
    ]);
    expect(await page.getByTestId("budget-billing").getAttribute("data-exceeded")).toBe("true");
    expect(await page.getByTestId("budget-demo").getAttribute("data-exceeded")).toBe("false");
    expect(await page.locator('[data-testid="budget-billing"] .budget-mark-crossed').count()).toBe(3);

    // The retention policy (a project override set here) and the storage held, as the API reports them.
    const retention = await rt.fetch("/v1/admin/tenants/dev/retention", {
      method: "PUT",
      headers: admin,
      json: { projects: { billing: { runHotSeconds: 86_400, archiveSeconds: 30 * 86_400 } } },
    });
    expect(retention.status).toBe(200);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByTestId("retention-billing").waitFor();
    const cell = (scope: string, field: string) =>
      page.locator(`[data-testid="retention-${scope}"] [data-field="${field}"]`).textContent();
    expect(await cell("tenant", "runHotSeconds")).toBe("7 d");
    expect(await cell("tenant", "archiveSeconds")).toBe("90 d");
    expect(await cell("billing", "runHotSeconds")).toBe("1 d");
    expect(await cell("billing", "archiveSeconds")).toBe("30 d");
    const held = await api<{ storage: { runStateBytes: number; monthlyCostUsd: number } }>("/v1/usage");
    expect(Number(await page.getByTestId("storage-run-state").getAttribute("data-value"))).toBe(
      held.storage.runStateBytes,
    );
    await page.getByTestId("retention").evaluate((el) => el.scrollIntoView({ block: "start" }));
    await shot("usage-retention");

    const row = page.locator('[data-testid="breaker"][data-name="diagnostic-upstream"]');
    expect(await row.getAttribute("data-state")).toBe("closed");
    expect(await row.textContent()).toContain("half-open → closed");
    await page.getByTestId("budgets").evaluate((el) => el.scrollIntoView({ block: "start" }));
    await shot("usage-budgets");
    await checkPage(page, "usage (budgets, retention, breakers)");
  });

  it("signs out: the key is gone from storage and the sign-in form is back; a deep link survives sign-in", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
    await page.reload();
    await page.getByLabel("API key").waitFor();
    // A deep link opened while signed out lands where it pointed once signed in.
    await page.goto(`/#/runs/${runId}`);
    await page.getByLabel("API key").fill(rt.key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor();
    expect(page.url()).toMatch(new RegExp(`#/runs/${runId}$`));
  });

  it("logged no console errors and threw no page errors", () => {
    expect(watched.problems).toEqual([]);
  });
});
