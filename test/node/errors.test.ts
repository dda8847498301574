import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERRORS, type ErrorCode } from "../../schema/errors";

// The table lives in docs/errors.md (the README links to it). UPDATE_README keeps its name so
// that the command every guide gives still regenerates it.
const TABLE_DOC = new URL("../../docs/errors.md", import.meta.url);
const SRC = new URL("../../src/", import.meta.url).pathname;
const BEGIN = "<!-- error codes: generated from schema/errors.ts -->";
const END = "<!-- end of error codes -->";

/** docs/errors.md's table of error codes, as the registry makes it. */
function errorTable(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, e]) => `| \`${code}\` | ${e.status ?? "step"} | ${e.retryable ? "yes" : "no"} | ${e.title} |`,
  );
  return ["| Code | HTTP | Retryable | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && f.name.endsWith(".ts"))
    .map((f) => join(f.parentPath, f.name))
    .map((path) => ({ path, text: readFileSync(path, "utf8") }));
}

/** Codes our code throws, refuses with, or writes into a step's or a run's error. */
const PRODUCED = [
  /\b(?:AppError|NonRetryableError|RetryAfterError|refuse)\(\s*"([a-z_.]+)"/g,
  /\bcode: "([a-z_]+\.[a-z_]+)"/g,
];

describe("the error registry", () => {
  it("is docs/errors.md's table of error codes (UPDATE_README=1 rewrites it)", () => {
    if (process.env.UPDATE_README === "1") {
      const [before, rest] = readFileSync(TABLE_DOC, "utf8").split(BEGIN) as [string, string];
      writeFileSync(TABLE_DOC, `${before}${BEGIN}\n${errorTable()}\n${rest.slice(rest.indexOf(END))}`);
    }
    const text = readFileSync(TABLE_DOC, "utf8");
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    expect(start, "docs/errors.md's error code markers").toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    expect(
      text.slice(start + BEGIN.length, end).trim(),
      "run `UPDATE_README=1 npx vitest run --config vitest.node.config.ts test/node/errors.test.ts`",
    ).toBe(errorTable());
  });

  it("holds every code src/ throws, refuses with or fails a step with", () => {
    const found = new Set<string>();
    const unknown: string[] = [];
    for (const { path, text } of sources(SRC))
      for (const pattern of PRODUCED)
        for (const [, code] of text.matchAll(pattern)) {
          found.add(code!);
          if (!(code! in ERRORS)) unknown.push(`${code} (${path})`);
        }
    expect(unknown).toEqual([]);
    // The patterns still see the throw sites: most codes are written at one.
    expect(found.size).toBeGreaterThan(Object.keys(ERRORS).length / 2);
  });

  it("holds no code that src/ never produces", () => {
    const all = sources(SRC)
      .map((f) => f.text)
      .join("\n");
    const unused = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => !all.includes(`"${code}"`));
    expect(unused).toEqual([]);
  });
});
