/**
 * The direction of dependencies. The contracts and the job catalog (schema/) import nothing of
 * the runtime; the control plane never reaches the data plane, directly or through anything it
 * imports; the data plane reaches into the control plane only through the Run object's stub;
 * the webhook sender never imports the control plane; and no file reaches itself. Type-only
 * imports count: they tie the code together just the same.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");
const under = (...dir: string[]) => {
  const prefix = `${join(ROOT, ...dir)}/`;
  return (file: string) => file.startsWith(prefix);
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const importCache = new Map<string, string[]>();
/**
 * The project files a file imports. TypeScript's own pre-processor reads the specifiers, so an
 * import written inside a string (the generators' templates) is not taken for one.
 */
function imports(file: string): string[] {
  const cached = importCache.get(file);
  if (cached) return cached;
  const found = ts
    .preProcessFile(readFileSync(file, "utf8"), true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith("."))
    .map((s) => {
      const target = resolve(dirname(file), s);
      if (target.endsWith(".ts")) return target;
      return existsSync(`${target}.ts`) ? `${target}.ts` : join(target, "index.ts");
    });
  importCache.set(file, found);
  return found;
}

const show = (chain: string[]) => chain.map((f) => relative(ROOT, f)).join(" → ");

/** Every path from `start` into a file `forbidden` accepts, as chains of files relative to the root. */
function reaches(start: string[], forbidden: (file: string) => boolean): string[] {
  const seen = new Map<string, string[]>(start.map((f) => [f, [f]]));
  const queue = [...start];
  const found: string[] = [];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const next of imports(file)) {
      if (seen.has(next)) continue;
      const chain = [...(seen.get(file) ?? []), next];
      seen.set(next, chain);
      if (forbidden(next)) found.push(show(chain));
      else queue.push(next);
    }
  }
  return found;
}

/** The import cycles among `all`: each strongly connected component of more than one file (Tarjan). */
function cycles(all: string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of imports(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.push(relative(ROOT, w));
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of all) if (!index.has(file)) visit(file);
  return found;
}

it("the control plane never imports the data plane, directly or transitively", () => {
  const control = files(join(SRC, "control"));
  expect(control.length).toBeGreaterThan(10);
  expect(reaches(control, under("src", "data"))).toEqual([]);
});

it("the contracts and the job catalog import nothing of the runtime's code", () => {
  const contracts = files(join(ROOT, "schema"));
  expect(reaches(contracts, under("src"))).toEqual([]);
});

it("the data plane reaches the control plane only through the Run object's stub", () => {
  const stub = join(SRC, "control", "run", "stub.ts");
  const direct = files(join(SRC, "data")).flatMap((file) =>
    imports(file)
      .filter((target) => under("src", "control")(target) && target !== stub)
      .map((target) => show([file, target])),
  );
  expect(direct).toEqual([]);
});

it("the webhook sender never imports the control plane", () => {
  expect(reaches(files(join(SRC, "webhooks")), under("src", "control"))).toEqual([]);
});

it("no file imports itself through others: no import cycles, the Durable Objects included", () => {
  const all = [...files(SRC), ...files(join(ROOT, "schema"))];
  expect(all.length).toBeGreaterThan(50);
  expect(cycles(all)).toEqual([]);
});

it("the checks see real imports: a known edge of each kind is found", () => {
  // Guards the parser: if it stopped finding imports, every rule above would pass vacuously.
  const consumer = join(SRC, "data", "consumer.ts");
  expect(imports(consumer)).toContain(join(SRC, "control", "run", "stub.ts"));
  expect(imports(join(SRC, "control", "run", "engine.ts"))).toContain(join(ROOT, "schema", "run.ts"));
});

it.each([
  ["control", "api", "the control plane is called by the API, never the other way"],
  ["artifacts", "data", "artifact storage serves the data plane and the objects, and needs neither's code"],
  ["data", "webhooks", "the data plane hands events to the tenant object, which owns delivery"],
])("src/%s never imports src/%s, directly or transitively (%s)", (from, to) => {
  const start = files(join(SRC, from));
  expect(start.length).toBeGreaterThan(0);
  expect(reaches(start, under("src", to))).toEqual([]);
});
