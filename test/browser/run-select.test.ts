/**
 * The runs list's per-row multi-select (issue 28) and a waiting run's key on its page, in a real
 * browser against the real runtime: two of three runs are selected and cancelled, after a
 * confirmation, with the operation's progress shown; a run waiting for a concurrency key names it.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, type Runtime } from "../e2e/support/runtime";
import { checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

/** A run that waits without a worker (a durable sleep), tagged so the page can show only this test's runs. */
async function sleeper(body: Record<string, unknown> = {}): Promise<string> {
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project: "select", tags: ["pick"], steps: [{ id: "a", type: "sleep", input: { for: "PT10M" } }], ...body },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const statusOf = async (id: string): Promise<string> =>
  ((await (await rt.fetch(`/v1/runs/${id}`)).json()) as { status: string }).status;

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("selecting runs on the runs list", () => {
  it("cancels the selected runs after a confirmation and shows the operation's progress", async () => {
    const [a, b, c] = [await sleeper(), await sleeper(), await sleeper()];
    await page.goto("/#/runs?tag=pick");
    await expect.poll(() => page.locator("tr[data-run]").count(), { timeout: 30_000 }).toBe(3);
    await page.getByLabel(`Select run ${a}`).check();
    await page.getByLabel(`Select run ${b}`).check();
    await expect.poll(() => page.getByTestId("selected-count").textContent()).toBe("2 selected");
    await checkPage(page, "runs (selected)");
    await page.getByRole("button", { name: "Cancel selected" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel 2 runs?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Cancel runs" }).click();
    await expect
      .poll(() => page.getByTestId("select-status").textContent(), { timeout: 60_000 })
      .toContain("cancel succeeded: 2 done, 0 skipped, 0 failed, 0 pending of 2");
    for (const id of [a, b]) await expect.poll(() => statusOf(id), { timeout: 30_000 }).toBe("cancelled");
    expect(await statusOf(c as string)).not.toBe("cancelled");

    // Select-all takes the page's runs; the dialog's own Cancel leaves them be.
    await page.getByTestId("select-page").check();
    await expect.poll(() => page.getByTestId("selected-count").textContent()).toBe("3 selected");
    await page.getByRole("button", { name: "Delete selected" }).click();
    await page
      .getByRole("dialog", { name: "Delete 3 runs?" })
      .getByRole("button", { name: "Cancel", exact: true })
      .click();
    expect(await statusOf(c as string)).not.toBe("cancelled");
    expect(watched.problems).toEqual([]);
  });

  it("a run waiting for a concurrency key names the key on its page", async () => {
    const key = { concurrency: [{ key: "repo:{{input.repo}}", limit: 1 }], input: { repo: "shown" } };
    await sleeper(key);
    const waiting = await sleeper(key);
    await page.goto(`/#/runs/${waiting}`);
    await expect
      .poll(() => page.getByTestId("run-waiting").textContent(), { timeout: 30_000 })
      .toBe("waiting for a slot of concurrency key repo:shown");
    await checkPage(page, "run (waiting for a key)");
    expect(watched.problems).toEqual([]);
  });

  it("a debounced run names its key and when it starts on its page", async () => {
    const debounced = await sleeper({
      input: { repo: "later" },
      debounce: { key: "repo:{{input.repo}}", periodMs: 600_000 },
    });
    await page.goto(`/#/runs/${debounced}`);
    await expect
      .poll(() => page.getByTestId("run-waiting").textContent(), { timeout: 30_000 })
      .toMatch(/^debounced on key repo:later until \d{4}-\d\d-\d\dT.* \(a later run of the key pushes it\)$/);
    await checkPage(page, "run (debounced)");
    expect((await rt.fetch(`/v1/runs/${debounced}/cancel`, { method: "POST" })).status).toBe(200);
    expect(watched.problems).toEqual([]);
  });
});
