/**
 * Approvals in a real browser against the real runtime: a gated microservice run waits at its
 * gate, is listed on the Approvals page, is approved from its run page (its zip then downloads);
 * another is rejected with a comment. The API's answer afterwards is what the page showed.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { active, checkPage, theme } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

const SHOTS = join(import.meta.dirname, "..", "..", "docs", "screenshots");

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

type Run = {
  status: string;
  steps: { id: string; status: string; output?: unknown; error?: { code: string } | null }[];
};

/** Starts the gated runs: the key that starts a run may not decide its gates (the page's dev key does). */
async function requester(): Promise<Runtime> {
  expect((await rt.fetch("/v1/runs")).status).toBe(200); // makes the dev tenant
  const made = await fetch(`${rt.url}/v1/admin/tenants/dev/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "requester", scopes: ["runs:read", "runs:write"] }),
  });
  expect(made.status).toBe(201);
  return rt.as(((await made.json()) as { key: string }).key);
}

async function gatedRun(name: string): Promise<string> {
  const res = await (await requester()).fetch("/v1/runs", {
    method: "POST",
    json: { project: "gates", blueprint: "microservice", input: { name, approval: true } },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function untilWaiting(id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const run = (await (await rt.fetch(`/v1/runs/${id}`)).json()) as Run;
    if (run.steps.find((s) => s.id === "approval")?.status === "waiting") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${id} never reached its gate`);
}

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("approvals in the dashboard", () => {
  let approved = "";
  let rejected = "";

  it("lists waiting gates on the Approvals page, oldest first", async () => {
    approved = await gatedRun("gate-yes");
    await untilWaiting(approved);
    rejected = await gatedRun("gate-no");
    await untilWaiting(rejected);
    await page.getByRole("link", { name: "Approvals" }).click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    const rows = page.locator('[data-testid="approvals-pending"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-run")))).toEqual([approved, rejected]);
    expect(await rows.first().textContent()).toContain("Publish gate-yes?");
    await page.screenshot({ path: join(SHOTS, "approvals.png") });
    expect(await page.title()).toBe("Approvals (2) · Factory Runtime");
    await checkPage(page, "approvals", "approvals");
  });

  it("approves one run from its page: the gate's colour, then the run finishes and its zip downloads", async () => {
    await page.locator(`[data-testid="approvals-pending"] tr[data-run="${approved}"] a`).click();
    await page.waitForURL(new RegExp(`#/runs/${approved}$`));
    const gate = page.locator('[data-gate="approval"]');
    await gate.waitFor();
    expect(await gate.locator(".gate-title").textContent()).toBe("Publish gate-yes?");
    expect(await page.locator('.dag-node[data-step="approval"] .pill').getAttribute("data-status")).toBe("waiting");
    // The waiting step has its own colour in the graph.
    const colour = await page
      .locator('.dag-node[data-step="approval"]')
      .evaluate(
        (el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { borderLeftColor: string } }).getComputedStyle(el)
            .borderLeftColor,
      );
    expect(colour).toBe("rgb(13, 148, 136)");
    await page.screenshot({ path: join(SHOTS, "run-gate.png") });
    await checkPage(page, "run (waiting gate)");

    await gate.getByLabel("Comment on approval").fill("ship it");
    // Everything the live region says, in order: the run may finish (and say so) right after the decision.
    await page.evaluate(() => {
      const w = globalThis as unknown as {
        announced: string[];
        document: { getElementById(id: string): { textContent: string | null } | null };
        MutationObserver: new (cb: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
      };
      w.announced = [];
      const region = w.document.getElementById("announcer")!;
      new w.MutationObserver(() => w.announced.push(region.textContent ?? "")).observe(region, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await gate.getByRole("button", { name: "Approve" }).click();
    // The card leaves with its button: focus goes to the heading, and the decision is read out.
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as { announced: string[] }).announced), {
        timeout: 15_000,
      })
      .toContain("Approved: Publish gate-yes?");
    expect((await active(page)).tag).toBe("H1");
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 90_000 });
    const run = (await (await rt.fetch(`/v1/runs/${approved}`)).json()) as Run;
    expect(run.status).toBe("succeeded");
    expect(run.steps.find((s) => s.id === "approval")!.output).toMatchObject({
      decision: "approved",
      comment: "ship it",
      by: { kind: "key" },
    });
    expect(await page.locator('[data-gate="approval"]').count()).toBe(0);
    // The gate's wait shows on the timeline, apart from execution.
    await expect
      .poll(() => page.locator('[data-testid="timings"] tr[data-step="approval"] td').nth(5).textContent())
      .not.toBe("—");

    const row = page.locator('[data-testid="artifacts"] tr[data-artifact="gate-yes.zip"]');
    await row.waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("button").click()]);
    const bytes = readFileSync((await download.path())!);
    const manifest = (await (await rt.fetch(`/v1/runs/${approved}/artifacts`)).json()) as {
      items: { name: string; sha256: string }[];
    };
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(
      manifest.items.find((a) => a.name === "gate-yes.zip")!.sha256,
    );
  });

  it("rejects the other with a comment: the run fails, and the API says so", async () => {
    await page.goto(`/#/runs/${rejected}`);
    const gate = page.locator('[data-gate="approval"]');
    await gate.waitFor();
    await gate.getByLabel("Comment on approval").fill("not this one");
    await gate.getByRole("button", { name: "Reject" }).click();
    await page.locator('[data-testid="run-status"] [data-status="failed"]').waitFor({ timeout: 30_000 });
    const run = await waitForRun(rt, rejected);
    expect(run.status).toBe("failed");
    const full = (await (await rt.fetch(`/v1/runs/${rejected}`)).json()) as Run;
    expect(full.steps.find((s) => s.id === "approval")!.error?.code).toBe("approval.rejected");
    expect(full.steps.find((s) => s.id === "package")!.status).toBe("skipped");

    await page.getByRole("link", { name: "Approvals" }).click();
    const decided = page.locator('[data-testid="approvals-decided"] tbody tr');
    await expect.poll(() => decided.count(), { timeout: 15_000 }).toBe(2);
    expect(
      await page
        .locator(`[data-testid="approvals-decided"] tr[data-run="${rejected}"] .pill`)
        .getAttribute("data-status"),
    ).toBe("rejected");
    expect(await page.locator('[data-testid="approvals-pending"]').count()).toBe(0);

    // Usage & SLA: the approval figures are the API's.
    await page.getByRole("link", { name: "Usage & SLA" }).click();
    const kpi = page.getByTestId("sla-approval-wait");
    await kpi.waitFor();
    const metrics = (await (await rt.fetch("/v1/metrics")).json()) as {
      approvals: { pending: number; decided: number; waitMs: { p50: number | null } };
    };
    expect(metrics.approvals).toMatchObject({ pending: 0, decided: 2 });
    expect(await kpi.getAttribute("data-value")).toBe(String(metrics.approvals.waitMs.p50));
    expect(watched.problems).toEqual([]);
  });
});

describe("a person's place on the page", () => {
  it("keeps a half-typed gate comment, its focus and caret while the run's live stream redraws the page for 5 s", async () => {
    // A gate that waits while a chain of short steps beside it keeps the event stream busy.
    const chain = Array.from({ length: 12 }, (_, i) => ({
      id: `tick-${i}`,
      type: "system.sleep",
      input: { ms: 400 },
      dependsOn: i === 0 ? [] : [`tick-${i - 1}`],
    }));
    // Started by another key: the key that created a run may not decide its gates.
    const res = await (await requester()).fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "busy",
        steps: [{ id: "approval", type: "approval", input: { title: "Ship while busy?" } }, ...chain],
      },
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    await page.goto(`/#/runs/${id}`);
    const comment = page.locator('[data-gate="approval"] .gate-comment');
    await comment.waitFor();
    await page.getByTestId("live").waitFor({ state: "visible" });
    await comment.click();
    await page.keyboard.type("looks good, half-wri");
    const before = await page.locator('[data-testid="events"] tbody tr').count();
    const started = Date.now();
    // Type on while events arrive; each redraw patches the page around the field.
    while (Date.now() - started < 5_000) {
      await page.keyboard.type("t");
      await page.waitForTimeout(250);
    }
    expect(await page.locator('[data-testid="events"] tbody tr').count()).toBeGreaterThan(before + 5);
    const field = await comment.evaluate((el) => {
      const input = el as unknown as { value: string; selectionStart: number | null };
      const focused = el === Reflect.get(Reflect.get(globalThis, "document"), "activeElement");
      return { value: input.value, focused, caret: input.selectionStart };
    });
    expect(field.focused).toBe(true);
    expect(field.value).toMatch(/^looks good, half-writ{10,}$/);
    expect(field.caret).toBe(field.value.length);

    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator('[data-testid="run-status"] [data-status="succeeded"]').waitFor({ timeout: 60_000 });
    const run = (await (await rt.fetch(`/v1/runs/${id}`)).json()) as Run;
    expect(run.steps.find((s) => s.id === "approval")!.output).toMatchObject({
      decision: "approved",
      comment: field.value,
    });
  });

  it("answers the keyboard: g a, g r, / and ? open the approvals, the runs, the filter and the shortcuts", async () => {
    await page.goto("/#/runs");
    await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor();
    await page.keyboard.press("g");
    await page.keyboard.press("a");
    await page.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
    expect(page.url()).toMatch(/#\/approvals$/);
    await page.keyboard.press("g");
    await page.keyboard.press("r");
    await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor();
    await page.keyboard.press("/");
    await expect.poll(async () => (await active(page)).id).toBe("filter-project");
    // Typed into the filter, `g r` is text, not a shortcut.
    await page.keyboard.type("gr");
    expect(await page.locator("#filter-project").inputValue()).toBe("gr");
    await page.locator("#filter-project").fill("");
    await page.locator("h1").focus();
    await page.keyboard.press("?");
    const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await dialog.waitFor();
    await checkPage(page, "shortcuts dialog");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  it("switches to the dark theme and keeps the choice (only the theme) in local storage", async () => {
    await page.goto("/#/runs");
    await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor();
    const toggle = page.getByTestId("theme");
    expect(await theme(page)).toBe("light");
    await toggle.click();
    expect(await theme(page)).toBe("dark");
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    await page.reload();
    await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor();
    expect(await theme(page)).toBe("dark");
    // The key stays in this tab's session storage; local storage holds the theme and nothing else.
    const stores = await page.evaluate(() => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
    }));
    expect(stores).toEqual({ local: ["factory.theme"], session: ["factory.apiKey"] });
    await page.getByTestId("theme").click();
    expect(await theme(page)).toBe("light");
    expect(await page.evaluate(() => localStorage.getItem("factory.theme"))).toBe("light");
    await page.evaluate(() => localStorage.clear());
    expect(watched.problems).toEqual([]);
  });
});
