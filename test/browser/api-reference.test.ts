/**
 * The API reference at /docs: Scalar's bundle, served from our own assets, renders the OpenAPI
 * document the runtime serves, inside the page's CSP (a violation is a console error here).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, type Runtime } from "../e2e/support/runtime";
import { launch, openPage, type WatchedPage } from "./support/browser";

let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;

beforeAll(async () => {
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  watched = await openPage(browser, rt.url);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
});

describe("the API reference at /docs", () => {
  it("renders the operations of the runtime's OpenAPI document, loading nothing from another origin", async () => {
    const doc = (await (await rt.fetch("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { summary: string; operationId: string }>>;
    };
    const offOrigin: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(rt.url) && !r.url().startsWith("data:")) offOrigin.push(r.url());
    });

    const res = await page.goto("/docs");
    expect(res?.status()).toBe(200);
    const csp = res!.headers()["content-security-policy"] ?? "";
    // The one loosening is inline styles; scripts stay our own files, connections our own origin.
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp.split("script-src")[1]?.split(";")[0]).not.toContain("unsafe-inline");

    await page.getByText(doc.paths["/v1/runs"]!.post!.summary).first().waitFor({ timeout: 60_000 });
    for (const [path, method] of [
      ["/v1/runs/{id}", "get"],
      ["/v1/webhooks", "post"],
      ["/v1/admin/tenants", "post"],
    ] as const) {
      await expect
        .poll(async () => page.getByText(doc.paths[path]![method]!.summary).count(), { timeout: 30_000 })
        .toBeGreaterThan(0);
    }
    expect(watched.problems).toEqual([]);
    expect(offOrigin).toEqual([]);
  });
});
