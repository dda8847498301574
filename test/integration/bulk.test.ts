/**
 * Issue 28, part 3: bulk operations. A filter's (or ids') runs are cancelled, retried or deleted
 * in batches on the operations object's alarm; a kill mid-operation resumes it with each run
 * changed exactly once; one operation per tenant; limits.maxBulk; dry runs count only.
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { RunSummary, RunView } from "../../schema/api";
import type { OperationView } from "../../schema/operations";
import { ADMIN_TOKEN, api, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const sleeping = (tags: string[]) => ({
  project: "p",
  tags,
  // A durable sleep holds no worker: a job that sleeps would hold the system pool's consumer for
  // 10 minutes and starve the next test's runs (and outlive this test's reset()).
  steps: [{ id: "a", type: "sleep", input: { for: "PT10M" } }],
});
const failing = (tags: string[]) => ({
  project: "p",
  tags,
  steps: [{ id: "a", type: "system.fail", input: { times: -1 } }],
});

async function post(key: string, body: unknown): Promise<RunView> {
  const res = await api("/v1/runs", { method: "POST", key, json: body });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as RunView;
}

async function bulk(key: string, body: unknown): Promise<Response> {
  return api("/v1/runs/bulk", { method: "POST", key, json: body });
}

async function begin(key: string, body: unknown): Promise<OperationView> {
  const res = await bulk(key, body);
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as OperationView;
}

async function operation(key: string, id: string): Promise<OperationView> {
  const res = await api(`/v1/operations/${id}`, { key });
  expect(res.status).toBe(200);
  return (await res.json()) as OperationView;
}

/** Polls the operation until `done` says so (generous bound: CI runs under load). */
async function until(key: string, id: string, done: (op: OperationView) => boolean): Promise<OperationView> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const op = await operation(key, id);
    if (done(op)) return op;
    if (Date.now() > deadline) throw new Error(`operation still ${JSON.stringify(op)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function allRuns(key: string, query: string): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  let cursor: string | null = null;
  do {
    const res = await api(`/v1/runs?${query}&limit=100${cursor ? `&cursor=${cursor}` : ""}`, { key });
    const page = (await res.json()) as { items: RunSummary[]; nextCursor: string | null };
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe("bulk operations", () => {
  it("cancels exactly the filter's runs, each event naming the operation as actor", async () => {
    const key = await newTenantKey("acme");
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await post(key, sleeping(["repo:y"])));
    const other = await post(key, sleeping(["repo:z"]));
    const dry = await begin(key, { action: "cancel", filter: { tags: ["repo:y"] }, dryRun: true });
    expect(dry).toMatchObject({ status: "succeeded", dryRun: true, matched: 5, done: 0 });
    const op = await begin(key, { action: "cancel", filter: { tags: ["repo:y"] }, reason: "repo y frozen" });
    expect(op).toMatchObject({ action: "cancel", matched: 5, reason: "repo y frozen" });
    const finished = await until(key, op.id, (o) => o.status === "succeeded");
    expect(finished).toMatchObject({ matched: 5, done: 5, skipped: 0, failed: 0, pending: 0 });
    for (const run of mine) {
      expect((await waitForRun(run.id, { key })).status).toBe("cancelled");
      const cancelled = (await events(run.id, key)).find((e) => e.type === "run.cancelled");
      expect(cancelled?.data.by).toBe(`operation:${op.id}`);
    }
    const res = await api(`/v1/runs/${other.id}`, { key });
    expect(((await res.json()) as RunView).status).not.toBe("cancelled");
    // Cancelling them again: each is skipped, with why.
    const again = await begin(key, { action: "cancel", ids: mine.map((r) => r.id) });
    const twice = await until(key, again.id, (o) => o.status === "succeeded");
    expect(twice.done).toBe(0);
    expect(twice.skipped).toBe(5);
    expect(Object.keys(twice.skippedReasons)).toHaveLength(1);
  });

  it("a bulk retry interrupted by a kill finishes with each failed run retried exactly once", async () => {
    const key = await newTenantKey("acme");
    // 60 runs and their polls are more requests than the default 600 a minute allows.
    const limits = await api("/v1/admin/tenants/acme", {
      method: "PATCH",
      key: ADMIN_TOKEN,
      json: { limits: { requestsPerMinute: 100_000 } },
    });
    expect(limits.status).toBe(200);
    const failed: RunView[] = [];
    for (let i = 0; i < 60; i++) failed.push(await post(key, failing(["outage"])));
    for (const run of failed) expect((await waitForRun(run.id, { key, timeoutMs: 60_000 })).status).toBe("failed");
    const op = await begin(key, { action: "retry", filter: { tags: ["outage"], status: ["failed"] } });
    expect(op.matched).toBe(60);
    // Killed once some runs were retried and others were not yet.
    await until(key, op.id, (o) => o.done > 0 || o.status !== "running");
    await abortAllDurableObjects();
    const finished = await until(key, op.id, (o) => o.status === "succeeded");
    expect(finished).toMatchObject({ matched: 60, done: 60, skipped: 0, failed: 0, pending: 0 });
    // Every source names one retry, and the tag finds exactly the sources and their 60 retries.
    const retries = new Set<string>();
    for (const run of failed) {
      const now = (await (await api(`/v1/runs/${run.id}`, { key })).json()) as RunView;
      expect(now.retriedAs).not.toBeNull();
      retries.add(now.retriedAs as string);
    }
    expect(retries.size).toBe(60);
    const deadline = Date.now() + 60_000;
    let tagged = await allRuns(key, "tag=outage");
    while (tagged.length < 120 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      tagged = await allRuns(key, "tag=outage");
    }
    expect(tagged).toHaveLength(120);
    const retried = tagged.filter((r) => retries.has(r.id));
    expect(retried).toHaveLength(60);
    expect(retried.every((r) => r.requestedBy === `operation:${op.id}`)).toBe(true);
  }, 300_000);

  it("deletes finished runs and skips active ones, saying why", async () => {
    const key = await newTenantKey("acme");
    const done = await post(key, failing(["old"]));
    await waitForRun(done.id, { key });
    const active = await post(key, sleeping(["old"]));
    const op = await begin(key, { action: "delete", filter: { tags: ["old"] } });
    const finished = await until(key, op.id, (o) => o.status === "succeeded");
    expect(finished).toMatchObject({ matched: 2, done: 1, skipped: 1, skippedReasons: { "run.active": 1 } });
    expect((await api(`/v1/runs/${done.id}`, { key })).status).toBe(404);
    expect((await api(`/v1/runs/${active.id}`, { key })).status).toBe(200);
  });

  it("one operation per tenant at a time (409); DELETE stops it", async () => {
    const key = await newTenantKey("acme");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await post(key, sleeping(["busy"]))).id);
    // Ids the tenant never had: each is skipped, slowly enough to overlap the second request.
    const unknown = Array.from({ length: 400 }, (_, i) => `run_${i.toString(36).padStart(26, "0")}`);
    const first = await begin(key, { action: "cancel", ids: [...unknown, ...ids] });
    const second = await bulk(key, { action: "cancel", ids });
    const stopped = await api(`/v1/operations/${first.id}`, { method: "DELETE", key });
    expect(stopped.status).toBe(200);
    const after = (await stopped.json()) as OperationView;
    if (second.status === 202) {
      // The first had already finished (under load the alarm may outrun this test): nothing to refuse.
      expect(after.status).toBe("succeeded");
    } else {
      expect(second.status).toBe(409);
      expect(((await second.json()) as { code: string }).code).toBe("operation.active");
      expect(after.status).toBe("stopped");
      // Stopped: a new one may begin.
      const third = await begin(key, { action: "cancel", ids });
      expect((await until(key, third.id, (o) => o.status === "succeeded")).done).toBe(3);
    }
  });

  it("refuses a filter matching more than limits.maxBulk (unless ids are given), and bad bodies", async () => {
    const key = await newTenantKey("acme");
    const patch = await api("/v1/admin/tenants/acme", {
      method: "PATCH",
      key: ADMIN_TOKEN,
      json: { limits: { maxBulk: 2 } },
    });
    expect(patch.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await post(key, failing(["many"]))).id);
    const over = await bulk(key, { action: "cancel", filter: { tags: ["many"] } });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { code: string }).code).toBe("operation.too_many");
    const byIds = await begin(key, { action: "cancel", ids, dryRun: true });
    expect(byIds.matched).toBe(3);
    for (const body of [
      { action: "cancel" },
      { action: "cancel", ids, filter: {} },
      { action: "explode", ids },
      { action: "cancel", filter: { colour: "red" } },
      { action: "cancel", filter: { createdAfter: "2026-01-02T00:00:00Z", createdBefore: "2026-01-01T00:00:00Z" } },
    ]) {
      const res = await bulk(key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await api("/v1/operations/op_nothing", { key })).status).toBe(404);
  });
});
