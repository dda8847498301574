/**
 * Delivery in a real browser against the real runtime: a run that delivers to a real
 * `git http-backend` and the Azure DevOps stand-in shows its branch, commit, pull request,
 * pipeline and build as links on its run page; the Secrets page lists, sets and deletes secrets
 * without ever showing a value back.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitServer, type GitServer } from "../e2e/support/git-server";
import { startAzureFake, type HostFake } from "../e2e/support/host-fakes";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { checkPage } from "./support/a11y";
import { launch, signedIn, type WatchedPage } from "./support/browser";

const TOKEN = "gitpat-browser-2f8e61c0a9d34b7e";
const NEW_VALUE = "pat-typed-in-the-page-5a0c3e7d91b2";
let rt: Runtime;
let browser: Browser;
let watched: WatchedPage;
let page: Page;
let server: GitServer;
let azure: HostFake;

beforeAll(async () => {
  server = await startGitServer({ user: "factory", password: TOKEN });
  azure = await startAzureFake(TOKEN, "contoso", "platform", "web-svc");
  [rt, browser] = await Promise.all([startRuntime(), launch()]);
  expect((await rt.fetch("/v1/secrets/git-token", { method: "PUT", json: { value: TOKEN } })).status).toBe(201);
  watched = await signedIn(browser, rt.url, rt.key);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
  await server?.close();
  await azure?.close();
});

describe("delivery in the dashboard", () => {
  it("the run page's Delivery panel links the branch, the pull request, the pipeline and the build", async () => {
    const url = server.repo("contoso/platform/_git/web-svc");
    const apiUrl = `${azure.url}/contoso`;
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "delivery",
        blueprint: "library",
        input: {
          name: "web-svc",
          deliver: {
            git: { url, host: "azure-devops", secret: "git-token", apiUrl },
            azurePipelines: { organization: "contoso", project: "platform", secret: "git-token", apiUrl },
          },
        },
      },
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const run = await waitForRun(rt, id, 120_000);
    expect(run.status).toBe("succeeded");
    const steps = ((await (await rt.fetch(`/v1/runs/${id}`)).json()) as { steps: { id: string; output: unknown }[] })
      .steps;
    const pushed = steps.find((s) => s.id === "deliver")?.output as { commitSha: string };

    await page.goto(`/#/runs/${id}`);
    const panel = page.getByTestId("delivery");
    await panel.waitFor();
    const link = (name: string | RegExp) => panel.getByRole("link", { name });
    expect(await link(`factory/${id} @ ${pushed.commitSha.slice(0, 12)}`).getAttribute("href")).toBe(url);
    expect(await link("#1").getAttribute("href")).toBe(`${apiUrl}/platform/_git/web-svc/pullrequest/1`);
    expect(await link(/^1$/).first().getAttribute("href")).toBe(`${apiUrl}/platform/_build/definition?definitionId=1`);
    expect(await link("1 (queued)").getAttribute("href")).toBe(`${apiUrl}/platform/_build/results?buildId=1`);
    for (const a of await panel.getByRole("link").all()) {
      expect(await a.getAttribute("target")).toBe("_blank");
      expect(await a.getAttribute("rel")).toContain("noopener");
    }
    expect(azure.violations).toEqual([]);
    await checkPage(page, "run (delivered)", "run-delivered");
  });

  it("the Secrets page lists names and times, sets a value it never shows back, and deletes after a confirmation", async () => {
    await page.getByRole("link", { name: "Secrets", exact: true }).click();
    await page.getByRole("heading", { name: "Secrets", level: 1 }).waitFor();
    expect(await page.title()).toContain("Secrets");
    const table = page.getByTestId("secrets");
    const row = (name: string) => table.locator(`tr[data-secret="${name}"]`);
    await row("git-token").waitFor();
    // The delivery above used it: its last use is a time, not "never".
    expect(await row("git-token").locator("td").nth(3).textContent()).not.toBe("never");
    await checkPage(page, "secrets", "secrets");

    await page.getByLabel("Name").fill("azure-pat");
    await page.getByLabel("Value").fill(NEW_VALUE);
    await page.getByRole("button", { name: "Save secret" }).click();
    await row("azure-pat").waitFor();
    expect(await page.getByLabel("Value").inputValue()).toBe("");
    expect(await row("azure-pat").locator("td").nth(3).textContent()).toBe("never");
    expect(await page.content()).not.toContain(NEW_VALUE);
    const listed = (await (await rt.fetch("/v1/secrets")).json()) as { items: { name: string }[] };
    expect(listed.items.map((s) => s.name).sort()).toEqual(["azure-pat", "git-token"]);

    // A value over 16 KiB is refused by the API and said in the page; the field is cleared anyway.
    await page.getByLabel("Name").fill("too-big");
    await page.getByLabel("Value").fill("x".repeat(17 * 1024));
    await page.getByRole("button", { name: "Save secret" }).click();
    await page.getByRole("alert").first().waitFor();
    expect(await page.getByLabel("Value").inputValue()).toBe("");
    expect(await row("too-big").count()).toBe(0);

    // Delete asks first: Cancel keeps it, the confirmation removes it.
    await row("azure-pat").getByRole("button", { name: "Delete azure-pat" }).click();
    const confirm = row("azure-pat").getByRole("button", { name: "Delete azure-pat" });
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Delete azure-pat");
    await checkPage(page, "secrets (confirm delete)");
    await row("azure-pat").getByRole("button", { name: "Cancel" }).click();
    expect(await row("azure-pat").count()).toBe(1);
    await row("azure-pat").getByRole("button", { name: "Delete azure-pat" }).click();
    await confirm.click();
    await row("azure-pat").waitFor({ state: "detached" });
    expect((await rt.fetch("/v1/secrets/azure-pat", { method: "DELETE" })).status).toBe(404);
    expect(watched.problems.filter((p) => !p.includes("400"))).toEqual([]);
  });
});
