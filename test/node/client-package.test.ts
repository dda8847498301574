/**
 * The typed client as a package: what `npm pack` would publish is dist/ (ESM and declarations),
 * self-contained: nothing reaches ../schema, at run time or in its types.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

const CLIENT = join(import.meta.dirname, "..", "..", "client");
const npm = (args: string[]) => execFileSync("npm", args, { cwd: CLIENT, encoding: "utf8" });

beforeAll(() => {
  // Built by `npm install` and before the tests; this makes sure it is current (a no-op if it is).
  execFileSync(process.execPath, [join(CLIENT, "build.mjs")], { stdio: "inherit" });
}, 120_000);

describe("the client package", () => {
  it("packs dist/*.js and dist/*.d.ts, and no source that imports ../schema", () => {
    const [pack] = JSON.parse(npm(["pack", "--dry-run", "--json", "--ignore-scripts"])) as [
      { name: string; files: { path: string }[] },
    ];
    const files = pack.files.map((f) => f.path).sort();
    expect(pack.name).toBe("@factory-runtime/client");
    expect(files).toEqual(["dist/index.d.ts", "dist/index.js", "dist/schema.d.ts", "package.json"]);
    for (const file of files.filter((f) => f.startsWith("dist/")))
      expect(readFileSync(join(CLIENT, file), "utf8"), file).not.toMatch(/\.\.\/schema|from "zod"|@hono/);
  });

  it("runs from dist/index.js: a call through a given fetch, a refusal as FactoryApiError", async () => {
    const { FactoryClient, FactoryApiError } = (await import(
      join(CLIENT, "dist", "index.js")
    )) as typeof import("@factory-runtime/client");
    const seen: string[] = [];
    const client = new FactoryClient({
      baseUrl: "http://runtime.test",
      apiKey: "k",
      fetch: async (url, init) => {
        seen.push(`${init?.method} ${String(url)}`);
        return Response.json({ type: "x", title: "No such run.", status: 404, code: "run.not_found" }, { status: 404 });
      },
    });
    const err = await client.getRun("run_x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FactoryApiError);
    expect(err).toMatchObject({ status: 404, code: "run.not_found" });
    expect(seen).toEqual(["GET http://runtime.test/v1/runs/run_x"]);
  });

  it("type-checks a consumer against dist's declarations alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "client-consumer-"));
    try {
      const file = join(dir, "consumer.ts");
      writeFileSync(
        file,
        [
          `import { FactoryClient, type RunView } from ${JSON.stringify(join(CLIENT, "dist", "index.js"))};`,
          `const c = new FactoryClient({ baseUrl: "http://x", apiKey: "k" });`,
          `export const run: Promise<RunView> = c.getRun("run_x");`,
          `export const status = (r: RunView): "queued" | "running" | string => r.status;`,
          `export const steps = (r: RunView): number => r.steps.length;`,
          `// @ts-expect-error: a run view has no such field`,
          `export const nope = (r: RunView) => r.notAField;`,
        ].join("\n"),
      );
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.asynciterable.d.ts"],
        types: [],
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      expect(problems).toEqual([]);
      // Only the package's own files were read: nothing of the repository's schema or of zod.
      const read = program
        .getSourceFiles()
        .map((f) => f.fileName)
        .filter((f) => !f.includes("/typescript/lib/"));
      expect(read.every((f) => f.startsWith(dir) || f.startsWith(join(CLIENT, "dist")))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Names of exported declarations (and public class members) in a source file that have no JSDoc. */
function undocumented(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.ES2022, true);
  const hasDoc = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).length > 0;
  const exported = (node: ts.Node) =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const missing: string[] = [];
  for (const stmt of source.statements) {
    if (!exported(stmt) || ts.isExportDeclaration(stmt)) continue; // `export type { … }` re-exports the schemas' own
    const name = ts.isVariableStatement(stmt)
      ? stmt.declarationList.declarations.map((d) => d.name.getText()).join(",")
      : ((stmt as ts.DeclarationStatement).name?.getText() ?? "?");
    if (!hasDoc(stmt)) missing.push(name);
    if (!ts.isClassDeclaration(stmt) && !ts.isInterfaceDeclaration(stmt)) continue;
    for (const member of stmt.members) {
      const mods = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
      if (mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword) || member.name?.getText().startsWith("#")) continue;
      if (!hasDoc(member)) missing.push(`${name}.${member.name?.getText() ?? "constructor"}`);
    }
  }
  return missing;
}

describe("the public SDK's doc comments", () => {
  it("document every export of the client and of the job SDK (defineJob, the job context)", () => {
    expect(undocumented(join(CLIENT, "index.ts"))).toEqual([]);
    expect(undocumented(join(CLIENT, "..", "src", "data", "job.ts"))).toEqual([]);
  });
});
