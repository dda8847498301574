import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { createRun, waitForRun } from "../support/api";

afterEach(() => reset());

/**
 * Counts every SQL statement any Durable Object runs (they share this isolate in tests) while
 * `work` runs, by statement text.
 */
async function countStatements(work: () => Promise<void>): Promise<Map<string, number>> {
  const proto = await runInDurableObject(env.TENANT.getByName("probe"), (_instance, state) => Object.getPrototypeOf(state.storage.sql) as SqlStorage);
  const exec = proto.exec;
  const counts = new Map<string, number>();
  proto.exec = function (this: SqlStorage, query: string, ...params: unknown[]) {
    const text = query.replace(/\s+/g, " ").trim();
    counts.set(text, (counts.get(text) ?? 0) + 1);
    return exec.call(this, query, ...params);
  } as SqlStorage["exec"];
  try {
    await work();
  } finally {
    proto.exec = exec;
  }
  return counts;
}

const oneStep = { project: "p", steps: [{ id: "a", type: "system.hash" }] };

it("a one-step run, from POST to its final webhook fan-out, stays within its SQL statement budget", async () => {
  await waitForRun((await createRun(oneStep)).id); // warm: the tenant exists, its statements are known
  const counts = await countStatements(async () => {
    await waitForRun((await createRun(oneStep)).id);
    await new Promise((r) => setTimeout(r, 2_500)); // the webhook batch and the tenant's final sync
  });
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5);
  // 177 before the run's and tenant's hot reads were kept in memory, 110 after (15 of them build
  // the new run's schema). A regression shows here, deterministically, rather than as a slower benchmark.
  expect(total, `statements: ${total}; most frequent: ${JSON.stringify(top)}`).toBeLessThanOrEqual(120);
  // The run's row is read from SQLite once per object lifetime, not once per decision.
  expect(counts.get("SELECT * FROM run LIMIT 1") ?? 0).toBeLessThanOrEqual(2);
  expect(counts.get("SELECT * FROM tenant LIMIT 1") ?? 0).toBe(0);
}, 30_000);
