/**
 * Chromium for the browser tests: Debian's package (installed by .ci/run), driven by
 * playwright-core. Every page records console errors and uncaught exceptions so a test can
 * insist there were none.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function chromiumPath(): string {
  const found = CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error("No Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH");
  return found;
}

export async function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and page errors seen so far. */
  problems: string[];
}

export async function openPage(browser: Browser, baseURL: string): Promise<WatchedPage> {
  const context = await browser.newContext({
    baseURL,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    timezoneId: "UTC",
    locale: "en-US",
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return { page, problems };
}

/** A page of the dashboard at `baseURL`, signed in with `key` and showing the runs list. */
export async function signedIn(browser: Browser, baseURL: string, key: string): Promise<WatchedPage> {
  const watched = await openPage(browser, baseURL);
  await watched.page.goto("/");
  await watched.page.getByLabel("API key").fill(key);
  await watched.page.getByRole("button", { name: "Sign in" }).click();
  await watched.page.getByRole("heading", { name: "Runs" }).waitFor();
  return watched;
}
