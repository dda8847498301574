import { reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const run = {
  project: "p",
  steps: [
    { id: "a", type: "system.echo", input: {} },
    { id: "b", type: "system.echo", input: {}, dependsOn: ["a"] },
  ],
};

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

  await Promise.all(Array.from({ length: 500 }, () => createRun(run, flooder)));
  const contended = await timeRuns(small, 5);
  const tenant = await api("/v1/admin/tenants/flooder", { key: ADMIN_TOKEN });
  const { running, waiting } = ((await tenant.json()) as { runs: { running: number; waiting: number } }).runs;

  console.log(
    `fairness: 5 runs of tenant B took ${idle} ms idle and ${contended} ms behind tenant A's 500 ` +
      `(${(contended / idle).toFixed(1)}x); when B was done, ${running + waiting} of A's runs were unfinished`,
  );
  // Without admission B would queue behind A's ~1,000 steps and finish about when the flood does;
  // with it B waits behind ~20 runs. Counting A's unfinished runs holds on a loaded machine,
  // where a bound on B's time against its idle time (a few hundred ms) is noise.
  expect(running + waiting).toBeGreaterThan(250);
}, 120_000);
