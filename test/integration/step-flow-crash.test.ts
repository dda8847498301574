/**
 * Step keys under kills (issue 28, docs/flow-control.md "Step keys"): 100 steps over 5 concurrency
 * keys of limit 1 across 20 runs, with every Durable Object aborted twice while they run: none
 * lost, and at no instant two steps of a key running (each step's interval from its run's event
 * log: step.started to step.succeeded).
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { stepFlowStub } from "../../src/control/flow/stub";
import { ADMIN_TOKEN, api, newTenantKey, waitForRun } from "../support/api";
import { overlaps, until } from "../support/flow";

afterEach(() => reset(), 120_000);

const KEYS = Array.from({ length: 5 }, (_, i) => `org-${i}`);

async function post(key: string, body: unknown): Promise<RunView> {
  const res = await api("/v1/runs", { method: "POST", key, json: body });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as RunView;
}

/** Each step's running interval and its key, from its run's event log. */
async function stepSpans(run: RunView, key: string) {
  const res = await api(`/v1/runs/${run.id}/events?limit=1000`, { key });
  const items = ((await res.json()) as { items: { type: string; stepId?: string; occurredAt: string }[] }).items;
  return run.steps.map((s, i) => {
    const of = items.filter((e) => e.stepId === s.id);
    // From its first attempt's start: one lost to a kill started earlier, and the step held its slot since.
    const started = of.filter((e) => e.type === "step.started").map((e) => Date.parse(e.occurredAt));
    return {
      key: KEYS[i % KEYS.length]!,
      starts: started.length,
      from: Math.min(...started),
      to: Date.parse(of.find((e) => e.type === "step.succeeded")?.occurredAt ?? ""),
    };
  });
}

it("100 steps over 5 keys of limit 1 across 20 runs, every object aborted twice: none lost, never two of a key running", async () => {
  const key = await newTenantKey("stepcrash");
  const limits = { requestsPerMinute: 1_000_000, maxConcurrentRuns: 100, monthlyRuns: 1_000_000 };
  const patched = await api("/v1/admin/tenants/stepcrash", {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits },
  });
  expect(patched.status).toBe(200);
  const runs: RunView[] = [];
  const create = async (from: number, to: number) => {
    for (let r = from; r < to; r++)
      runs.push(
        await post(key, {
          project: "p",
          // Five independent steps, one a key: each waits for its key's slot, not for its run's other steps.
          steps: KEYS.map((k, i) => ({
            id: `s${i}`,
            type: "system.sleep",
            input: { ms: 20 },
            concurrency: { key: k, limit: 1 },
          })),
        }),
      );
  };
  await create(0, 10);
  // First kill: steps are running, waiting at their keys, and being granted.
  await abortAllDurableObjects();
  await create(10, 20);
  await until(
    "a run of the second half finished",
    async () => (await (await api(`/v1/runs/${runs[12]!.id}`, { key })).json()) as RunView,
    (r) => r.status === "succeeded" || r.status === "failed",
    300_000,
  );
  // Second kill, mid-way through the second half.
  await abortAllDurableObjects();

  const done: RunView[] = [];
  for (const r of runs) done.push(await waitForRun(r.id, { key, timeoutMs: 300_000 }));
  expect(done.filter((r) => r.status !== "succeeded").map((r) => [r.id, r.status])).toEqual([]);
  const spans = (await Promise.all(done.map((r) => stepSpans(r, key)))).flat();
  expect(spans).toHaveLength(100);
  expect(spans.every((s) => Number.isFinite(s.from) && Number.isFinite(s.to))).toBe(true);
  for (const k of KEYS) {
    const ofKey = spans.filter((s) => s.key === k);
    expect(ofKey).toHaveLength(20);
    expect(overlaps(ofKey), k).toBe(0);
  }
  // Every slot was given back: no key holds or queues a step.
  for (const k of KEYS)
    await until(
      `${k} released`,
      () => stepFlowStub(env, "stepcrash", k).state(),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
      120_000,
    );
}, 900_000);
