/**
 * Functions a reader can hold: none in dashboard/ over 80 lines (issue 30). The run page is
 * panels in views/run/ for this reason; a view that grows past it splits the same way.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const MAX_LINES = 80;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
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

it(`has no function over ${MAX_LINES} lines in dashboard/`, () => {
  const all = files(join(ROOT, "dashboard"));
  expect(all.length).toBeGreaterThan(20);
  expect(all.flatMap(longFunctions)).toEqual([]);
});
