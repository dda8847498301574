/**
 * Admission order with concurrency keys (issue 29, part 2): a run waiting on a busy key gives its
 * tenant slot back, so the tenant's other runs use the slots while it waits, and it asks for one
 * again once it holds its key. The tenant's limit is never exceeded.
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { ADMIN_TOKEN, api, createRun, events, newTenantKey, waitForRun } from "../support/api";
import { intervals, overlaps, until } from "../support/flow";

// Dozens of objects to reset: more than the default 10 s under load.
afterEach(() => reset(), 120_000);

const keyed = (ms: number) => ({
  project: "p",
  input: { repo: "busy" },
  concurrency: [{ key: "repo:{{input.repo}}", limit: 1 }],
  steps: [{ id: "a", type: "system.sleep", input: { ms } }],
});
const plain = { project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 10 } }] };

const getRun = async (id: string, key: string) => (await (await api(`/v1/runs/${id}`, { key })).json()) as RunView;
const tenantRuns = async () =>
  (
    (await (await api("/v1/admin/tenants/acme", { key: ADMIN_TOKEN })).json()) as {
      runs: { running: number; waiting: number };
    }
  ).runs;

/** The most runs whose running intervals overlap at one instant. */
function peak(spans: { from: number; to: number }[]): number {
  const edges = spans.flatMap((s) => [
    { at: s.from, d: 1 },
    { at: s.to, d: -1 },
  ]);
  // An end and a start at the same millisecond: the end first (the slot was freed, then reused).
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) {
    now += e.d;
    most = Math.max(most, now);
  }
  return most;
}

it("runs waiting on a busy key hold no tenant slot: another run of the tenant starts while five wait", async () => {
  const key = await newTenantKey("acme");
  const limited = await api("/v1/admin/tenants/acme", {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { maxConcurrentRuns: 2 } },
  });
  expect(limited.status).toBe(200);
  // The holder sleeps until it is cancelled below: nothing here depends on how long it takes.
  const holder = await createRun(keyed(10 * 60_000), key);
  expect(holder.status).toBe("running");
  const waiters: RunView[] = [];
  for (let i = 0; i < 5; i++) waiters.push(await createRun(keyed(20), key));
  // Each waits on the key (its run.waiting event says so once the key's object answered "wait").
  for (const w of waiters)
    await until(
      "a waiter's run.waiting event",
      () => events(w.id, key),
      (log) => log?.some((e) => e.type === "run.waiting") ?? false,
    );
  // Five wait on the key while one slot of two is taken: a run without keys still gets the other.
  const other = await createRun(plain, key);
  expect((await waitForRun(other.id, { key, timeoutMs: 30_000 })).status).toBe("succeeded");
  expect((await getRun(holder.id, key)).status).toBe("running");
  for (const w of waiters) expect((await getRun(w.id, key)).status).toBe("queued");
  // The tenant counts the waiters as waiting, not running.
  const counts = await until("the tenant's counts", tenantRuns, (r) => r.running === 1);
  expect(counts).toEqual({ running: 1, waiting: 5 });

  // The holder ends: the waiters take the key one at a time and each gets a tenant slot again.
  expect((await api(`/v1/runs/${holder.id}/cancel`, { method: "POST", key })).status).toBe(200);
  const done = await Promise.all(waiters.map((w) => waitForRun(w.id, { key, timeoutMs: 60_000 })));
  expect(done.map((r) => r.status)).toEqual(Array(5).fill("succeeded"));
  const spans = await intervals(waiters, key);
  expect(overlaps(spans)).toBe(0);
  // Never more running at once than the tenant's limit (the waiters and the run without keys).
  expect(peak([...spans, ...(await intervals([other], key))])).toBeLessThanOrEqual(2);
}, 120_000);

it("a kill of every object while keyed runs give their slots back and ask again: none lost, the limits held", async () => {
  const key = await newTenantKey("acme");
  const limited = await api("/v1/admin/tenants/acme", {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { requestsPerMinute: 1_000_000, maxConcurrentRuns: 3, monthlyRuns: 1_000_000 } },
  });
  expect(limited.status).toBe(200);
  const keys = ["k0", "k1"];
  // A sleep in the run's object: a run holds its slots from run.started to run.succeeded without a queue trip.
  const body = (i: number) => ({
    project: "p",
    ...(i % 5 === 4 ? {} : { input: { repo: keys[i % 2] }, concurrency: [{ key: "{{input.repo}}", limit: 1 }] }),
    steps: [{ id: "a", type: "sleep", input: { for: "PT0S" } }],
  });
  const runs: RunView[] = [];
  for (let i = 0; i < 20; i++) runs.push(await createRun(body(i), key));
  await abortAllDurableObjects();
  for (let i = 20; i < 40; i++) runs.push(await createRun(body(i), key));
  const done: RunView[] = [];
  for (const r of runs) done.push(await waitForRun(r.id, { key, timeoutMs: 180_000 }));
  expect(done.filter((r) => r.status !== "succeeded").map((r) => [r.id, r.status])).toEqual([]);
  const spans = await intervals(runs, key);
  for (const k of [0, 1]) expect(overlaps(spans.filter((_, i) => i % 5 !== 4 && i % 2 === k))).toBe(0);
  expect(peak(spans)).toBeLessThanOrEqual(3);
}, 300_000);
