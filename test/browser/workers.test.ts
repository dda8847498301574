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

it("creates a pool, issues a token shown once with a copy button, and revokes it after a confirmation", async () => {
  await page.getByRole("link", { name: "Workers", exact: true }).click();
  await page.getByRole("heading", { name: "Create a pool" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("cpu");
  await page.getByLabel("Labels (optional)").fill("arch=arm64");
  await page.getByRole("button", { name: "Create pool" }).click();
  await page.getByRole("heading", { name: "Pool cpu" }).waitFor();
  const pools = (await (await rt.fetch("/v1/pools")).json()) as { items: { name: string; labels: object }[] };
  expect(pools.items).toContainEqual(expect.objectContaining({ name: "cpu", labels: { arch: "arm64" } }));

  // The new pool is the tokens panel's choice; a token is issued and shown this once.
  await expect.poll(() => page.locator("#token-pool").inputValue(), { timeout: 30_000 }).toBe("cpu");
  await page.getByRole("button", { name: "Issue token" }).click();
  const field = page.getByLabel(/New worker token/);
  await field.waitFor();
  const token = await field.inputValue();
  expect(token).toMatch(/^fwt_.+_cpu_/);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.getByRole("button", { name: "Copy token" }).click();
  await expect
    .poll(
      () =>
        page.evaluate(() =>
          (navigator as unknown as { clipboard: { readText(): Promise<string> } }).clipboard.readText(),
        ),
      { timeout: 10_000 },
    )
    .toBe(token);
  const lease = () =>
    rt.fetch("/v1/pools/cpu/leases", {
      method: "POST",
      json: { waitMs: 0 },
      headers: { authorization: `Bearer ${token}` },
    });
  expect((await lease()).status).toBe(204); // the token works
  await checkPage(page, "workers-manage");

  // Revoke asks first; Cancel changes nothing, the confirmation revokes.
  const row = page.locator("tr[data-token]");
  await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
  const id = (await row.getAttribute("data-token")) ?? "";
  await page.getByRole("button", { name: `Revoke ${id}`, exact: true }).click();
  await page.getByRole("button", { name: "Cancel" }).click();
  expect((await lease()).status).toBe(204);
  await page.getByRole("button", { name: `Revoke ${id}`, exact: true }).click();
  await page.getByRole("button", { name: `Revoke ${id} now` }).click();
  await row.getByText(/^revoked /).waitFor();
  expect((await lease()).status).toBe(401);
  expect(watched.problems).toEqual([]);
});
