/**
 * The runs page's search and bulk bar (issue 28) in a real browser against the real runtime: a
 * shared URL (`#/runs?tag=…`) opens the same search with its fields filled; "apply to all
 * matching" counts, asks, cancels exactly the matching runs and shows the operation's progress.
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

async function sleeper(tags: string[]): Promise<string> {
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project: "search", tags, steps: [{ id: "a", type: "system.sleep", input: { ms: 600_000 } }] },
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

describe("searching and bulk-cancelling runs in the dashboard", () => {
  it("a shared URL opens its search; apply to all matching cancels exactly those runs", async () => {
    const mine = [await sleeper(["repo:y"]), await sleeper(["repo:y", "urgent"])];
    const other = await sleeper(["repo:z"]);
    // A link someone shared: the search is in the URL, and the fields show it.
    await page.goto("/#/runs?tag=repo:y");
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await expect.poll(() => page.locator("tr[data-run]").count(), { timeout: 30_000 }).toBe(2);
    for (const id of mine) await page.locator(`tr[data-run="${id}"]`).waitFor();
    expect(await page.getByLabel("Tags").inputValue()).toBe("repo:y");
    // Narrowing the search keeps the URL in step.
    await page.getByLabel("Tags").fill("repo:y urgent");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("tr[data-run]").count()).toBe(1);
    await expect.poll(() => page.url()).toContain("tag=repo%3Ay&tag=urgent");
    await page.getByLabel("Tags").fill("repo:y");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("tr[data-run]").count()).toBe(2);
    await checkPage(page, "runs (search)", "runs");

    // The dry run's count is what the page asks about.
    const asked: string[] = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.getByLabel("Action for all matching runs").selectOption("cancel");
    await page.getByTestId("bulk-apply").click();
    await expect
      .poll(() => page.getByTestId("bulk-status").textContent(), { timeout: 60_000 })
      .toContain("cancel succeeded: 2 done, 0 skipped, 0 failed, 0 pending of 2");
    expect(asked).toEqual(["cancel all 2 matching runs?"]);
    for (const id of mine) await expect.poll(() => statusOf(id), { timeout: 30_000 }).toBe("cancelled");
    expect(await statusOf(other)).not.toBe("cancelled");
    expect(watched.problems).toEqual([]);
  });
});
