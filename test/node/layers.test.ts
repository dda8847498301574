/**
 * The direction of dependencies: the control plane and the data plane both depend on the
 * contracts (schema/), and the control plane never reaches the data plane, directly or through
 * anything it imports (type-only imports included: they tie the code together just the same).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The project files a file imports (relative specifiers only; packages are not ours). */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(SPECIFIER)]
    .map((m) => m[1] ?? m[2]!)
    .filter((s) => s.startsWith("."))
    .map((s) => {
      const target = resolve(dirname(file), s);
      if (target.endsWith(".ts")) return target;
      return existsSync(`${target}.ts`) ? `${target}.ts` : join(target, "index.ts");
    });
}

/** Every path from `start` into a file `forbidden` accepts, as chains of files relative to the root. */
function reaches(start: string[], forbidden: (file: string) => boolean): string[] {
  const seen = new Map<string, string[]>(start.map((f) => [f, [f]]));
  const queue = [...start];
  const found: string[] = [];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of imports(file)) {
      if (seen.has(next)) continue;
      const chain = [...seen.get(file)!, next];
      seen.set(next, chain);
      if (forbidden(next)) found.push(chain.map((f) => relative(ROOT, f)).join(" → "));
      else queue.push(next);
    }
  }
  return found;
}

it("the control plane never imports the data plane, directly or transitively", () => {
  const control = files(join(ROOT, "src", "control"));
  expect(control.length).toBeGreaterThan(10);
  expect(reaches(control, (f) => f.startsWith(`${join(ROOT, "src", "data")}/`))).toEqual([]);
});

it("the contracts import nothing of the runtime's code", () => {
  const contracts = files(join(ROOT, "schema"));
  expect(reaches(contracts, (f) => f.startsWith(`${join(ROOT, "src")}/`))).toEqual([]);
});
