/**
 * Issue 28's tests that crash things, in workerd: every Durable Object is aborted (the runs', the
 * tenant's, the keys' and the operations' objects lose their memory; their storage stays) while
 * the work is under way.
 *
 * (a) 200 runs over 10 concurrency keys of limit 1, killed twice: none lost, and at no instant two
 *     runs of a key running (each run's interval from its event log: run.started to run.succeeded).
 * (b) a bulk retry of 500 failed runs killed mid-way finishes with each run retried exactly once.
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import type { RunSummary, RunView } from "../../schema/api";
import type { OperationView } from "../../schema/operations";
import { flowStub } from "../../src/control/flow/stub";
import { ADMIN_TOKEN, api, newTenantKey, waitForRun } from "../support/api";
import { intervals, overlaps, until } from "../support/flow";

// Hundreds of objects to reset: more than the default 10 s under load.
afterEach(() => reset(), 120_000);

async function roomyTenant(id: string): Promise<string> {
  const key = await newTenantKey(id);
  // Hundreds of runs and their polls: more requests than the default allows a minute, more runs than its slots.
  const res = await api(`/v1/admin/tenants/${id}`, {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { requestsPerMinute: 1_000_000, maxConcurrentRuns: 500, monthlyRuns: 1_000_000 } },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return key;
}

/** Every run tagged `outage` (and matching `query`), paged. */
async function tagged(key: string, query = ""): Promise<RunSummary[]> {
  const found: RunSummary[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(
      `/v1/runs?tag=outage&limit=100${query ? `&${query}` : ""}${cursor ? `&cursor=${cursor}` : ""}`,
      {
        key,
      },
    );
    const page = (await res.json()) as { items: RunSummary[]; nextCursor: string | null };
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}

async function post(key: string, body: unknown): Promise<RunView> {
  const res = await api("/v1/runs", { method: "POST", key, json: body });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as RunView;
}

/** Waits for many runs a few at a time (each poll is a request). */
async function waitAll(runs: RunView[], key: string): Promise<RunView[]> {
  const done: RunView[] = [];
  for (let i = 0; i < runs.length; i += 25)
    done.push(...(await Promise.all(runs.slice(i, i + 25).map((r) => waitForRun(r.id, { key, timeoutMs: 300_000 })))));
  return done;
}

it("200 runs over 10 keys of limit 1, killed twice: none lost, never two of a key running at once", async () => {
  const key = await roomyTenant("crash");
  const keys = Array.from({ length: 10 }, (_, i) => `repo-${i}`);
  const runs: RunView[] = [];
  const create = async (from: number, to: number) => {
    for (let i = from; i < to; i++)
      runs.push(
        await post(key, {
          project: "p",
          input: { repo: keys[i % keys.length] },
          concurrency: [{ key: "{{input.repo}}", limit: 1 }],
          // A sleep in the run's object: the run holds its key from run.started to run.succeeded
          // without a queue's round trip, so 20 runs a key take seconds, not minutes, on a loaded machine.
          steps: [{ id: "a", type: "sleep", input: { for: "PT0S" } }],
        }),
      );
  };
  await create(0, 100);
  // First kill: runs are running, waiting at their keys, and being granted.
  await abortAllDurableObjects();
  await create(100, 200);
  // Second kill, once some of the second half have finished.
  await until(
    "a run of the second half finished",
    async () => (await (await api(`/v1/runs/${runs[110]!.id}`, { key })).json()) as RunView,
    (r) => r.status === "succeeded" || r.status === "failed",
    120_000,
  );
  await abortAllDurableObjects();

  const done = await waitAll(runs, key);
  expect(done.filter((r) => r.status !== "succeeded").map((r) => [r.id, r.status])).toEqual([]);
  const spans = await intervals(runs, key);
  expect(spans.every((s) => Number.isFinite(s.from) && Number.isFinite(s.to))).toBe(true);
  for (const [k, repo] of keys.entries()) {
    const ofKey = spans.filter((_, i) => i % keys.length === k);
    expect(ofKey).toHaveLength(20);
    expect(overlaps(ofKey), repo).toBe(0);
  }
  // Every slot was released: no key holds or queues a run.
  for (const repo of keys)
    await until(
      `${repo} released`,
      () => flowStub(env, "crash", repo).state(),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
    );
}, 600_000);

it("a bulk retry of 500 failed runs interrupted by a kill retries each exactly once", async () => {
  const key = await roomyTenant("bulk500");
  // Failed by their deadline, in their own objects: 500 failures cost no queue or worker. A retry
  // has no deadline, so it sleeps its two seconds and succeeds: nothing is left sleeping.
  const failed: RunView[] = [];
  for (let i = 0; i < 500; i += 20)
    failed.push(
      ...(await Promise.all(
        Array.from({ length: 20 }, () =>
          post(key, {
            project: "p",
            tags: ["outage"],
            deadlineMs: 1_000,
            steps: [{ id: "a", type: "sleep", input: { for: "PT2S" } }],
          }),
        ),
      )),
    );
  await until(
    "500 failed runs indexed",
    () => tagged(key, "status=failed"),
    (f) => f.length === 500,
    300_000,
  );
  const begun = await api("/v1/runs/bulk", {
    method: "POST",
    key,
    json: { action: "retry", filter: { tags: ["outage"], status: ["failed"] } },
  });
  expect(begun.status, await begun.clone().text()).toBe(202);
  const op = (await begun.json()) as OperationView;
  expect(op.matched).toBe(500);
  const read = async () => (await (await api(`/v1/operations/${op.id}`, { key })).json()) as OperationView;
  // Killed once some runs were retried and most were not yet.
  await until("some runs retried", read, (o) => o.done > 0 || o.status !== "running", 120_000);
  await abortAllDurableObjects();
  const finished = await until("the operation's end", read, (o) => o.status === "succeeded", 300_000);
  expect(finished).toMatchObject({ matched: 500, done: 500, skipped: 0, failed: 0, pending: 0 });
  // Each source names one retry, all different.
  const retries = new Set<string>();
  for (let i = 0; i < failed.length; i += 25) {
    const views = await Promise.all(
      failed.slice(i, i + 25).map(async (r) => (await (await api(`/v1/runs/${r.id}`, { key })).json()) as RunView),
    );
    for (const v of views) {
      expect(v.retriedAs).not.toBeNull();
      retries.add(v.retriedAs as string);
    }
  }
  expect(retries.size).toBe(500);
  // The tag finds exactly the 500 sources and their 500 retries: no retry was made twice.
  const all = await until(
    "the retries indexed",
    () => tagged(key),
    (found) => found.length >= 1_000,
    120_000,
  );
  expect(all).toHaveLength(1_000);
  expect(all.filter((r) => retries.has(r.id))).toHaveLength(500);
}, 600_000);
