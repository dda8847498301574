import { reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const run = { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }, { id: "b", type: "system.echo", input: {}, dependsOn: ["a"] }] };

/** Wall time for `n` runs of `key`'s tenant to all finish. */
async function timeRuns(key: string, n: number): Promise<number> {
  const started = Date.now();
  const runs = await Promise.all(Array.from({ length: n }, () => createRun(run, key)));
  await Promise.all(runs.map((r) => waitForRun(r.id, { key, timeoutMs: 60_000 })));
  return Date.now() - started;
}

it("a tenant flooding 500 runs does not starve a tenant that submits 5", async () => {
  const flooder = await newTenantKey("flooder");
  const small = await newTenantKey("small");
  const idle = await timeRuns(small, 5);

  const flood: Promise<unknown>[] = [];
  for (let i = 0; i < 500; i++) flood.push(createRun(run, flooder));
  await Promise.all(flood);
  const contended = await timeRuns(small, 5);

  const ratio = contended / idle;
  console.log(`fairness: 5 runs of tenant B took ${idle} ms idle and ${contended} ms behind tenant A's 500 (${ratio.toFixed(1)}x)`);
  // A generous bound: without admission, B would queue behind ~1,000 steps; with it, behind ~20 runs.
  expect(ratio).toBeLessThan(20);
}, 120_000);
