/**
 * Every relative link in the repository's Markdown (README.md, docs/**, the rest) resolves: the
 * file or folder exists and, for `#anchor`, the target has a heading with that GitHub slug.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SKIP = new Set(["node_modules", ".git", ".wrangler", "dist", "coverage", "demo-output"]);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(path);
    return e.name.endsWith(".md") ? [path] : [];
  });
}

/** The text outside fenced code blocks (a `# comment` in a shell block is no heading). */
const unfenced = (text: string) => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
/** The text a reader sees as prose: code, fenced or inline, holds no links. */
const prose = (text: string) => unfenced(text).replace(/`[^`\n]*`/g, "");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of unfenced(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (heading ?? "")
      .replace(/`/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative link targets in a Markdown text: `[text](target)` and `![alt](target)`. */
function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((m) => m[1] ?? "")
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe("Markdown links", () => {
  const files = markdownFiles(ROOT);

  it("finds the README and the docs", () => {
    const names = files.map((f) => relative(ROOT, f));
    expect(names).toContain("README.md");
    expect(names).toContain(join("docs", "errors.md"));
  });

  it("computes GitHub's anchors", () => {
    expect([...anchors("# A: `b` c\n## 4a. Hot: `shards: N`\n## A: b c\n```\n# not a heading\n```")]).toEqual([
      "a-b-c",
      "4a-hot-shards-n",
      "a-b-c-1",
    ]);
  });

  it("resolve to a file, and to a heading when they name one", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const target of links(readFileSync(file, "utf8"))) {
        const [path = "", anchor] = target.split("#", 2);
        const to = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
        const where = `${relative(ROOT, file)} → ${target}`;
        if (!existsSync(to)) broken.push(`${where}: no such file`);
        else if (
          anchor &&
          statSync(to).isFile() &&
          to.endsWith(".md") &&
          !anchors(readFileSync(to, "utf8")).has(anchor)
        )
          broken.push(`${where}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });
});
