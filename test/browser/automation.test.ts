/**
 * Schedules and triggers in a real browser against the real runtime: a person pauses a schedule,
 * resumes it, fires it now and follows the link to the run it started; deletes a schedule and a
 * trigger after a confirmation. What the page shows is checked against the API afterwards, and
 * every page state passes the accessibility check (axe, 390 px reflow, both themes).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

type Schedule = { id: string; paused: boolean; lastFires: { outcome: string; runId: string | null }[] };

async function post<T>(path: string, json: unknown, status = 201): Promise<T> {
  const res = await rt.fetch(path, { method: "POST", json });
  expect(res.status, path).toBe(status);
  return (await res.json()) as T;
}

const schedule = async (id: string): Promise<Schedule> =>
  (await (await rt.fetch(`/v1/schedules/${id}`)).json()) as Schedule;

/** Everything the live region says from now on, in order (it may say several things quickly). */
async function recordAnnouncements(): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as {
      announced: string[];
      document: { getElementById(id: string): { textContent: string | null } | null };
      MutationObserver: new (cb: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
    };
    w.announced = [];
    const region = w.document.getElementById("announcer")!;
    new w.MutationObserver(() => {
      if (region.textContent) w.announced.push(region.textContent);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  });
}
const announced = (): Promise<string[]> =>
  page.evaluate(() => (globalThis as unknown as { announced: string[] }).announced);

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("schedules and triggers in the dashboard", () => {
  let nightly = "";
  let spare = "";

  it("lists the schedules with their state and next fire", async () => {
    // Hourly: no fire of its own comes during the test, so every run it starts is a person's.
    nightly = (
      await post<{ id: string }>("/v1/schedules", {
        project: "sched",
        name: "hourly-echo",
        steps: [{ id: "echo", type: "system.echo", input: { hello: "world" } }],
        spec: { every: "PT1H" },
      })
    ).id;
    spare = (
      await post<{ id: string }>("/v1/schedules", {
        project: "sched",
        name: "spare",
        steps: [{ id: "echo", type: "system.echo", input: {} }],
        spec: { cron: "0 9 * * 1-5", timezone: "Europe/Berlin" },
        paused: true,
      })
    ).id;
    await page.getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("heading", { name: "Schedules" }).waitFor();
    const rows = page.locator('[data-testid="schedules"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    const row = page.locator(`tr[data-schedule="${nightly}"]`);
    expect(await row.textContent()).toContain("every PT1H");
    expect(await row.locator(".pill").getAttribute("data-status")).toBe("active");
    expect(await page.locator(`tr[data-schedule="${spare}"] .pill`).getAttribute("data-status")).toBe("paused");
    expect(await page.title()).toBe("Schedules (2) · Factory Runtime");
    await checkPage(page, "schedules", "schedules");
  });

  it("pauses, resumes and fires a schedule; the run it started is linked and finishes", async () => {
    await page.locator(`tr[data-schedule="${nightly}"] a`).click();
    await page.waitForURL(new RegExp(`#/schedules/${nightly}$`));
    await page.getByRole("heading", { name: "hourly-echo" }).waitFor();
    await expect.poll(() => page.locator('[data-testid="next-fires"] li').count(), { timeout: 15_000 }).toBe(5);
    await recordAnnouncements();

    await page.getByRole("button", { name: "Pause hourly-echo" }).click();
    await page.getByRole("button", { name: "Resume hourly-echo" }).waitFor({ timeout: 15_000 });
    expect((await schedule(nightly)).paused).toBe(true);
    await expect.poll(() => page.locator('[data-testid="next-fires"] li').count(), { timeout: 15_000 }).toBe(0);
    await checkPage(page, "schedule (paused)");

    await page.getByRole("button", { name: "Resume hourly-echo" }).click();
    await page.getByRole("button", { name: "Pause hourly-echo" }).waitFor({ timeout: 15_000 });
    expect((await schedule(nightly)).paused).toBe(false);

    await page.getByRole("button", { name: "Fire now: hourly-echo" }).click();
    const fired = page.locator('[data-testid="last-fires"] tbody tr a');
    await fired.first().waitFor({ timeout: 30_000 });
    const runId = (await fired.first().textContent()) ?? "";
    expect(runId).toMatch(/^run_/);
    const api = await schedule(nightly);
    expect(api.lastFires.map((f) => f.runId)).toEqual([runId]);
    await expect
      .poll(announced, { timeout: 15_000 })
      .toEqual(["hourly-echo paused.", "hourly-echo resumed.", `hourly-echo fired: run ${runId} started.`]);
    await checkPage(page, "schedule (fired)", "schedule");

    await fired.first().click();
    await page.waitForURL(new RegExp(`#/runs/${runId}$`));
    expect((await waitForRun(rt, runId)).status).toBe("succeeded");
    // The run page says which schedule started it, linked back to the schedule.
    await page.locator(`a[href="#/schedules/${nightly}"]`).waitFor({ timeout: 30_000 });
  });

  it("deletes a schedule only once the person confirms", async () => {
    await page.goto(`/#/schedules/${spare}`);
    await page.getByRole("heading", { name: "spare" }).waitFor();
    await page.getByRole("button", { name: "Delete spare" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete spare?" });
    await dialog.waitFor();
    await checkPage(page, "schedule (confirm delete)");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    expect((await rt.fetch(`/v1/schedules/${spare}`)).status).toBe(200);

    await page.getByRole("button", { name: "Delete spare" }).click();
    await page.getByRole("dialog", { name: "Delete spare?" }).getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(/#\/schedules$/);
    await expect.poll(async () => (await rt.fetch(`/v1/schedules/${spare}`)).status, { timeout: 15_000 }).toBe(404);
    await expect.poll(() => page.locator('[data-testid="schedules"] tbody tr').count(), { timeout: 15_000 }).toBe(1);
  });

  it("lists triggers with their match and target, and deletes one after a confirmation", async () => {
    const trigger = await post<{ id: string }>("/v1/triggers", {
      eventType: "build.completed",
      match: { "data.repo": "billing" },
      project: "sched",
      steps: [{ id: "echo", type: "system.echo", input: { branch: { $event: "data.branch" } } }],
    });
    await page.getByRole("link", { name: "Triggers" }).click();
    await page.getByRole("heading", { name: "Triggers" }).waitFor();
    const row = page.locator(`tr[data-trigger="${trigger.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain("build.completed");
    expect(await row.textContent()).toContain('data.repo = "billing"');
    expect(await page.title()).toBe("Triggers (1) · Factory Runtime");
    await checkPage(page, "triggers", "triggers");

    await row.getByRole("button", { name: `Delete trigger ${trigger.id}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await expect
      .poll(async () => ((await (await rt.fetch("/v1/triggers")).json()) as { items: unknown[] }).items)
      .toEqual([]);
    await page.getByText("No triggers yet.").waitFor({ timeout: 15_000 });
    expect(watched.problems).toEqual([]);
  });
});
