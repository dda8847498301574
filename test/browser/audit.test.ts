/**
 * The Audit page in a real browser against the real runtime: the tenant's trail, newest first;
 * choosing an action and filtering shows only that action's entries; an actor filter narrows to
 * one kind. Checked for accessibility at both widths and in both schemes.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { active, checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;
let cancelled = "";

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  // A trail to read: a run created, another created and cancelled, a secret set.
  const one = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project: "audited", steps: [{ id: "a", type: "system.echo", input: {} }] },
  });
  await waitForRun(rt, ((await one.json()) as { id: string }).id);
  const two = await rt.fetch("/v1/runs", {
    method: "POST",
    json: { project: "audited", steps: [{ id: "nap", type: "system.sleep", input: { ms: 60_000 } }] },
  });
  cancelled = ((await two.json()) as { id: string }).id;
  expect((await rt.fetch(`/v1/runs/${cancelled}/cancel`, { method: "POST" })).status).toBe(200);
  expect((await rt.fetch("/v1/secrets/audit-demo", { method: "PUT", json: { value: "x-1" } })).status).toBe(201);
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("the Audit page", () => {
  it("lists the trail, newest first, and filters it by action and by actor", async () => {
    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByRole("heading", { name: "Audit", level: 1 }).waitFor();
    expect(await page.title()).toContain("Audit");
    expect((await active(page)).tag).toBe("H1");
    const rows = page.getByTestId("audit").locator("tbody tr");
    await rows.first().waitFor();
    const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-audit")));
    expect(actions).toEqual(expect.arrayContaining(["run.create", "run.cancel", "secret.put"]));
    await checkPage(page, "audit", "audit");

    await page.getByLabel("Action").selectOption("run.cancel");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect
      .poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-audit"))), { timeout: 30_000 })
      .toEqual(["run.cancel"]);
    await expect.poll(() => rows.first().textContent()).toContain(`run:${cancelled}`);

    await page.getByLabel("Action").selectOption("");
    await page.getByLabel("Actor").fill("runtime");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("No audit entries.").waitFor();
  }, 120_000);
});
