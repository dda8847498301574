/**
 * The Workers page in a real browser against the real runtime: a tenant's pool with its backlog
 * and the workers that leased from it (labels, live, completed), and its job types with every
 * version. What the page shows is checked against the API, and the page passes the accessibility
 * check (axe, 390 px reflow, both themes).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

async function post<T>(path: string, json: unknown, headers: Record<string, string> = {}, status = 201): Promise<T> {
  const res = await rt.fetch(path, { method: "POST", json, headers });
  expect(res.status, `${path}: ${res.status === status ? "" : await res.clone().text()}`).toBe(status);
  return (await res.json()) as T;
}

const SCHEMA = { type: "object", properties: { file: { type: "string" } } };

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  await post("/v1/pools", { name: "gpu", labels: { site: "lab" } });
  const { token } = await post<{ token: string }>("/v1/pools/gpu/tokens", undefined);
  const lint = {
    name: "acme.train",
    pool: "gpu",
    input: SCHEMA,
    output: SCHEMA,
    requires: { labels: { gpu: "a100" } },
  };
  await post("/v1/job-types", lint);
  await post("/v1/job-types", { ...lint, timeoutMs: 120_000 });
  // A worker with the label runs one step, so the pool has a worker with a completion to show.
  const run = await post<{ id: string }>(
    "/v1/runs",
    { project: "w", steps: [{ id: "t", type: "acme.train", input: { file: "a" } }] },
    {},
    202,
  );
  const auth = { authorization: `Bearer ${token}` };
  const leased = await post<{ lease: { id: string } }>(
    "/v1/pools/gpu/leases",
    { waitMs: 10_000, labels: { gpu: "a100" }, workerId: "gpu-box-1" },
    auth,
    200,
  );
  await post(`/v1/pools/gpu/leases/${leased.lease.id}/result`, { outcome: "succeeded", output: {} }, auth, 200);
  expect((await waitForRun(rt, run.id)).status).toBe("succeeded");
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

it("the Workers page shows each pool's workers and every version of each job type", async () => {
  await page.getByRole("link", { name: "Workers", exact: true }).click();
  await page.getByRole("heading", { name: "Workers", level: 1 }).waitFor();
  expect(await page.title()).toContain("Workers");
  const worker = page.locator('tr[data-worker="gpu-box-1"]');
  await worker.waitFor();
  const cells = await worker.locator("td").allInnerTexts();
  expect(cells.slice(0, 3)).toEqual(["gpu-box-1", "live", "gpu=a100"]);
  expect(cells[5]).toBe("1"); // completed
  await page.getByRole("heading", { name: "Pool gpu" }).waitFor();
  const versions = page.locator('tr[data-job-type="acme.train"]');
  await expect.poll(() => versions.count(), { timeout: 30_000 }).toBe(2);
  expect(await versions.first().locator("td").nth(1).textContent()).toBe("v2 (current)");
  expect(await versions.nth(1).locator("td").nth(1).textContent()).toBe("v1");
  // The same as the API says.
  const api = (await (await rt.fetch("/v1/pools/gpu/workers")).json()) as {
    items: { id: string; completed: number }[];
  };
  expect(api.items).toEqual([expect.objectContaining({ id: "gpu-box-1", completed: 1 })]);
  await checkPage(page, "workers");
  expect(watched.problems).toEqual([]);
});
