/**
 * Functions a reader can hold: none in src/, dashboard/ or cli/ over 80 lines (issue 30). The run
 * page is panels in views/run/ and the generator sources are one function per emitted file for
 * this reason; code that grows past the limit splits the same way.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const MAX_LINES = 80;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? e.name === "node_modules" || e.name === "dist"
        ? []
        : files(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

/** Every function (declarations, expressions, arrows, methods) longer than the limit, as file:line (lines). */
function longFunctions(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const lines = line(node.end) - line(node.getStart(source)) + 1;
      if (lines > MAX_LINES) out.push(`${relative(ROOT, file)}:${line(node.getStart(source))} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

describe.each(["src", "dashboard", "cli"])("%s/", (dir) => {
  it(`has no function over ${MAX_LINES} lines`, () => {
    const root = join(ROOT, dir);
    expect(existsSync(root)).toBe(true);
    const all = files(root);
    expect(all.length).toBeGreaterThan(0);
    expect(all.flatMap(longFunctions)).toEqual([]);
  });
});
