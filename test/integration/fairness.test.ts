import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
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

/**
 * Weighted fair dispatch. Three tenants with weights 1, 2 and 4 (2 running runs per unit of
 * weight) keep one pool saturated with one-step runs; completions in a window where every one
 * still has a backlog are counted per tenant.
 */
describe("weighted fair dispatch", () => {
  const sleepy = { project: "w", steps: [{ id: "s", type: "system.sleep", input: { ms: 150 } }] };
  type Finished = { tenant: string; finishedAt: number };

  async function flood(keys: Record<string, string>, perTenant: Record<string, number>): Promise<string[][]> {
    // Submitted round robin, so that no tenant starts ahead of the others.
    const ids: Record<string, string[]> = Object.fromEntries(Object.keys(keys).map((t) => [t, []]));
    const most = Math.max(...Object.values(perTenant));
    for (let i = 0; i < most; i++)
      await Promise.all(
        Object.entries(keys)
          .filter(([t]) => i < perTenant[t]!)
          .map(async ([t, key]) => ids[t]!.push((await createRun(sleepy, key)).id)),
      );
    return Object.values(ids);
  }

  async function finished(tenant: string, key: string, ids: string[]): Promise<Finished[]> {
    const runs = await Promise.all(ids.map((id) => waitForRun(id, { key, timeoutMs: 90_000 })));
    return runs.map((r) => ({ tenant, finishedAt: Date.parse(r.finishedAt!) }));
  }

  /** Each tenant's completions in [from, to), as a share of the total. */
  function shares(all: Finished[], from: number, to: number): Record<string, number> {
    const inWindow = all.filter((f) => f.finishedAt >= from && f.finishedAt < to);
    const counts: Record<string, number> = {};
    for (const f of inWindow) counts[f.tenant] = (counts[f.tenant] ?? 0) + 1;
    return Object.fromEntries(Object.entries(counts).map(([t, n]) => [t, n / inWindow.length]));
  }

  it("three saturated tenants with weights 1, 2 and 4 get 1:2:4 of the pool (±15%), and use an idle tenant's share", async () => {
    const weights = { w1: 1, w2: 2, w4: 4 };
    const keys: Record<string, string> = {};
    for (const [t, weight] of Object.entries(weights)) {
      keys[t] = await newTenantKey(t);
      await api(`/v1/admin/tenants/${t}`, {
        method: "PATCH",
        key: ADMIN_TOKEN,
        json: { weight, limits: { maxConcurrentRuns: 2 } },
      });
    }
    // The weight-4 tenant's backlog runs out first (at about half time); the others then have the pool.
    // Backlogs large enough for about 150 completions in the window: with 24/48/48 it held about
    // 60, and one completion more or less moved a share by 1.7 points, a third of its band.
    const perTenant = { w1: 48, w2: 96, w4: 96 };
    const started = Date.now();
    const ids = await flood(keys, perTenant);
    const submitted = Date.now();
    const all = (await Promise.all(Object.keys(keys).map((t, i) => finished(t, keys[t]!, ids[i]!)))).flat();
    // The window: from the end of submission to the first tenant's last completion, less a margin.
    const lastOf = (t: string) => Math.max(...all.filter((f) => f.tenant === t).map((f) => f.finishedAt));
    const to = lastOf("w4") - 300;
    const share = shares(all, submitted, to);
    const expected = { w1: 1 / 7, w2: 2 / 7, w4: 4 / 7 };
    console.log(
      `weighted fairness: window ${to - submitted} ms after ${submitted - started} ms of submission; shares ` +
        Object.entries(share)
          .map(
            ([t, s]) =>
              `${t} ${(s * 100).toFixed(1)}% (expected ${((expected[t as keyof typeof expected] ?? 0) * 100).toFixed(1)}%)`,
          )
          .join(", "),
    );
    for (const [t, e] of Object.entries(expected)) {
      expect(share[t], t).toBeGreaterThanOrEqual(e * 0.85);
      expect(share[t], t).toBeLessThanOrEqual(e * 1.15);
    }
    // Work-conserving: once the weight-4 tenant is idle, the others complete faster than before.
    const rate = (t: string, from: number, until: number) =>
      (1_000 * all.filter((f) => f.tenant === t && f.finishedAt >= from && f.finishedAt < until).length) /
      (until - from);
    const after = [lastOf("w4") + 300, Math.min(lastOf("w1"), lastOf("w2")) - 300] as const;
    const before = ["w1", "w2"].map((t) => rate(t, submitted, to));
    const since = ["w1", "w2"].map((t) => rate(t, ...after));
    console.log(
      `work-conserving: runs/s of w1, w2 while w4 saturated: ${before.map((r) => r.toFixed(1))}; after w4 went idle: ${since.map((r) => r.toFixed(1))}`,
    );
    expect(since[0]! + since[1]!).toBeGreaterThan((before[0]! + before[1]!) * 1.2);
  }, 120_000);

  it("a weight changed mid-flight converges to the new share; a tenant arriving later gets its share at once", async () => {
    const keys = { a: await newTenantKey("ta"), b: await newTenantKey("tb") };
    for (const t of ["ta", "tb"])
      await api(`/v1/admin/tenants/${t}`, {
        method: "PATCH",
        key: ADMIN_TOKEN,
        json: { weight: 1, limits: { maxConcurrentRuns: 2 } },
      });
    const ids = await flood({ a: keys.a }, { a: 60 });
    // b arrives later: its first runs are admitted at once (its own slots are free).
    const arrived = Date.now();
    const late = await createRun(sleepy, keys.b);
    expect(late.status).toBe("running");
    const bIds = [late.id, ...(await flood({ b: keys.b }, { b: 40 }))[0]!];
    const firstB = await waitForRun(late.id, { key: keys.b });
    expect(Date.parse(firstB.finishedAt!) - arrived).toBeLessThan(5_000);
    // Now b's weight goes to 4: b's slots grow to 8 and its share to 4 / 5.
    const changed = Date.now();
    await api("/v1/admin/tenants/tb", { method: "PATCH", key: ADMIN_TOKEN, json: { weight: 4 } });
    const all = [...(await finished("a", keys.a, ids[0]!)), ...(await finished("b", keys.b, bIds))];
    const lastOf = (t: string) => Math.max(...all.filter((f) => f.tenant === t).map((f) => f.finishedAt));
    const share = shares(all, changed + 500, Math.min(lastOf("a"), lastOf("b")) - 200);
    console.log(`weight change: b's share after 1 → 4: ${((share.b ?? 0) * 100).toFixed(1)}% (expected 80%)`);
    expect(share.b).toBeGreaterThanOrEqual(0.8 * 0.85);
  }, 120_000);
});
