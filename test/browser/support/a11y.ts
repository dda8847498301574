/**
 * The accessibility check of every page state the browser tests visit: axe-core (WCAG 2.0, 2.1
 * and 2.2 A/AA rules and best practices) at 1280 and 390 px wide, in the light and the dark theme,
 * failing on any serious or critical violation; and at 390 and 320 px no sideways scroll (WCAG 1.4.10).
 * Screenshots of a state, when named, go to docs/screenshots as <name>-<width>-<scheme>.png.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { expect } from "vitest";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = join(import.meta.dirname, "..", "..", "..", "docs", "screenshots");
export const WIDTHS = [1280, 390] as const;
export const SCHEMES = ["light", "dark"] as const;
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

interface Finding {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** Serious and critical violations on the page as it is now, one line each for a readable failure. */
async function axe(page: Page): Promise<Finding[]> {
  // The page's CSP allows only its own scripts, so axe goes in through the devtools protocol's
  // evaluate (not a <script> tag), once per document.
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(AXE);
  return page.evaluate(async (tags) => {
    type Violation = { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] };
    type Result = { violations: Violation[]; passes: unknown[] };
    const { axe } = globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<Result> } };
    const result = await axe.run(Reflect.get(globalThis, "document"), {
      runOnly: { type: "tag", values: tags },
      resultTypes: ["violations"],
    });
    // A run that checked nothing would pass every page: it must have passed some rules.
    if (result.passes.length < 10) throw new Error(`axe passed only ${result.passes.length} rules`);
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => String(n.target)),
      }));
  }, TAGS);
}

/** How much wider than the window the page is (0 when it does not scroll sideways). */
const overflow = (page: Page): Promise<number> =>
  page.evaluate("document.documentElement.scrollWidth - window.innerWidth");

/** The elements that reach past the window's right edge, innermost first (to say what to fix). */
const overflowing = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && el.children.length === 0)
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : ""))`);

/** What the page says about itself: the focused element's tag and id, the theme in force. */
export const active = (page: Page): Promise<{ tag: string; id: string }> =>
  page.evaluate("({ tag: document.activeElement?.tagName ?? '', id: document.activeElement?.id ?? '' })");
export const theme = (page: Page): Promise<string | undefined> =>
  page.evaluate("document.documentElement.dataset.theme");

/**
 * Checks the page as it stands at both widths and in both schemes, then puts it back at 1280 px
 * in the light scheme. Charts and a reflowed layout need a moment after a resize: one frame each.
 */
export async function checkPage(page: Page, state: string, shot?: string): Promise<void> {
  const problems: string[] = [];
  try {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      for (const scheme of SCHEMES) {
        await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
        await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
        for (const f of await axe(page))
          problems.push(`${state} @${width} ${scheme}: ${f.impact} ${f.id} (${f.help}) at ${f.nodes.join(" | ")}`);
        if (width === 390) {
          const extra = await overflow(page);
          if (extra > 0)
            problems.push(
              `${state} @390 ${scheme}: scrolls sideways by ${extra} px: ${(await overflowing(page)).join(", ")}`,
            );
        }
        if (shot) await page.screenshot({ path: join(SHOTS, `${shot}-${width}-${scheme}.png`) });
      }
    }
    // The narrowest width WCAG 1.4.10 asks for (400 % zoom of 1280): no sideways scroll there either.
    await page.setViewportSize({ width: 320, height: 640 });
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
    const extra = await overflow(page);
    if (extra > 0)
      problems.push(`${state} @320: scrolls sideways by ${extra} px: ${(await overflowing(page)).join(", ")}`);
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });
  }
  expect(problems).toEqual([]);
}
