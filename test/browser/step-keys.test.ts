/**
 * The run page in a real browser against the real runtime: a step waiting for a flow-control key
 * (docs/flow-control.md, "Step keys") is listed with the key it waits for, and the page passes
 * the accessibility check (axe, 390 px reflow, both themes).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, type Runtime } from "../e2e/support/runtime";
import { checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;
let waiterId = "";

async function post<T>(path: string, json: unknown, status = 201): Promise<T> {
  const res = await rt.fetch(path, { method: "POST", json });
  expect(res.status, `${path}: ${res.status === status ? "" : await res.clone().text()}`).toBe(status);
  return (await res.json()) as T;
}

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  // A job type whose steps hold `repo:<repo>` one at a time, on a pool no worker serves: the
  // first step holds the key for as long as the test runs, the second waits for it.
  await post("/v1/pools", { name: "deployers" });
  await post("/v1/job-types", {
    name: "acme.deploy",
    pool: "deployers",
    input: { type: "object", properties: { repo: { type: "string" } } },
    output: { type: "object" },
    concurrency: { key: "repo:{{input.repo}}", limit: 1 },
  });
  const step = { id: "deploy", type: "acme.deploy", input: { repo: "api" } };
  await post("/v1/runs", { project: "k", steps: [step] }, 202);
  waiterId = (await post<{ id: string }>("/v1/runs", { project: "k", steps: [step] }, 202)).id;
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

it("a run page names the key its waiting step waits for", async () => {
  await page.goto(`/#/runs/${waiterId}`);
  const line = page.getByTestId("step-waiting-deploy");
  await line.waitFor({ timeout: 60_000 });
  expect(await line.textContent()).toBe("deploy waits for a slot of concurrency key repo:api");
  const run = (await (await rt.fetch(`/v1/runs/${waiterId}`)).json()) as {
    steps: { waiting?: { reason: string; key: string } }[];
  };
  expect(run.steps[0]?.waiting).toEqual({ reason: "concurrency.key", key: "repo:api" });
  await checkPage(page, "run (step waiting for a key)");
  expect(watched.problems).toEqual([]);
}, 120_000);
