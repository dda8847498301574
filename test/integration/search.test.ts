/**
 * Issue 28, parts 1 and 2: a run's tags and metadata (limits, shown on the run, its events and its
 * retry) and `GET /v1/runs`'s filters, exact across a sharded tenant's shards, each served by an
 * index of the shard's SQLite.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunSummary, RunView } from "../../schema/api";
import type { RunFilter } from "../../schema/search";
import { searchPlan } from "../../src/control/tenant/search";
import { shardName } from "../../src/control/tenant/shards";
import { ADMIN_TOKEN, api, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const echo = (extra: Record<string, unknown> = {}) => ({
  project: "p",
  steps: [{ id: "a", type: "system.echo", input: {} }],
  ...extra,
});
const failing = (extra: Record<string, unknown> = {}) => ({
  project: "p",
  steps: [{ id: "a", type: "system.fail", input: { times: -1 } }],
  ...extra,
});

async function post(key: string, body: unknown): Promise<RunView> {
  const res = await api("/v1/runs", { method: "POST", key, json: body });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as RunView;
}

/** Every page of a search, following its cursor. */
async function search(key: string, query: string, limit = 3): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const res = await api(`/v1/runs?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { key });
    expect(res.status, await res.clone().text()).toBe(200);
    const page = (await res.json()) as { items: RunSummary[]; nextCursor: string | null };
    out.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return out;
  }
  throw new Error("more than 100 pages");
}

async function sharded(tenant: string, shards: number): Promise<string> {
  const key = await newTenantKey(tenant);
  const res = await api(`/v1/admin/tenants/${tenant}`, {
    method: "PATCH",
    key: ADMIN_TOKEN,
    json: { limits: { shards, maxConcurrentRuns: 50 } },
  });
  expect(res.status).toBe(200);
  return key;
}

describe("tags and metadata", () => {
  it("are returned on the run, its summary and its events, and copied to a retry", async () => {
    const key = await newTenantKey("acme");
    const labels = { tags: ["customer:x", "repo-y"], metadata: { customer: "x", ticket: "T-1" } };
    const run = await post(key, failing(labels));
    expect(run).toMatchObject(labels);
    expect(run.requestedBy).toEqual(expect.any(String));
    const failed = await waitForRun(run.id, { key });
    expect(failed.status).toBe("failed");
    const log = await events(run.id, key);
    const finished = log.find((e) => e.type === "run.failed") as unknown as Record<string, unknown>;
    expect(finished).toMatchObject(labels);
    const retried = await api(`/v1/runs/${run.id}/retry`, { method: "POST", key });
    expect(retried.status).toBe(202);
    const retry = (await retried.json()) as RunView;
    expect(retry).toMatchObject(labels);
    // The retry is indexed (by its first sync) and found by its labels.
    const deadline = Date.now() + 30_000;
    let found: string[] = [];
    while (Date.now() < deadline) {
      found = (await search(key, "tag=repo-y&metadata.ticket=T-1")).map((r) => r.id);
      if (found.includes(retry.id)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(found.sort()).toEqual([run.id, retry.id].sort());
  });

  it("an unlabelled run shows none, and its events carry none", async () => {
    const key = await newTenantKey("acme");
    const run = await post(key, echo());
    expect(run).toMatchObject({ tags: [], metadata: {} });
    await waitForRun(run.id, { key });
    const log = await events(run.id, key);
    expect(log.every((e) => !("tags" in e) && !("metadata" in e))).toBe(true);
  });

  it.each([
    ["tags", { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }],
    ["tags.0", { tags: ["Upper"] }],
    ["tags.0", { tags: ["x".repeat(65)] }],
    ["metadata", { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }],
    ["metadata.k", { metadata: { k: "v".repeat(257) } }],
    ["metadata", { metadata: { ["k".repeat(65)]: "v" } }],
  ])("over the limits → 400 naming %s", async (path, labels) => {
    const key = await newTenantKey("acme");
    const res = await api("/v1/runs", { method: "POST", key, json: echo(labels) });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("request.invalid");
    expect(problem.errors.some((e) => e.path.startsWith(path))).toBe(true);
  });
});

describe("searching a sharded tenant's runs", () => {
  it("each filter finds exactly its runs across 3 shards, newest first, paged", async () => {
    const key = await sharded("acme", 3);
    const made: { run: RunView; customer: string; ok: boolean }[] = [];
    for (let i = 0; i < 12; i++) {
      const customer = i % 3 === 0 ? "x" : "y";
      const tags = [`customer:${customer}`, ...(i % 2 === 0 ? ["even"] : [])];
      const body = i % 4 === 3 ? failing({ tags, metadata: { customer } }) : echo({ tags, metadata: { customer } });
      made.push({ run: await post(key, body), customer, ok: i % 4 !== 3 });
    }
    const plain = await post(key, echo());
    for (const m of [...made.map((x) => x.run), plain]) await waitForRun(m.id, { key });
    // Every shard indexed some of them: the search is a merge.
    const perShard = await Promise.all(
      [0, 1, 2].map((k) =>
        runInDurableObject(env.TENANT.getByName(shardName("acme", k)), (_o, s) =>
          s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM run_index").one(),
        ),
      ),
    );
    expect(perShard.filter((r) => r.n > 0).length).toBeGreaterThan(1);

    const newestFirst = (ids: RunView[]) =>
      [...ids].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id)).map((r) => r.id);
    const expectIds = async (query: string, want: RunView[]) =>
      expect(
        (await search(key, query)).map((r) => r.id),
        query,
      ).toEqual(newestFirst(want));

    const runs = made.map((m) => m.run);
    await expectIds(
      "tag=customer:x",
      made.filter((m) => m.customer === "x").map((m) => m.run),
    );
    await expectIds(
      "tag=customer:y&tag=even",
      runs.filter((r) => r.tags.includes("customer:y") && r.tags.includes("even")),
    );
    await expectIds(
      "metadata.customer=y",
      made.filter((m) => m.customer === "y").map((m) => m.run),
    );
    await expectIds(
      "status=failed",
      made.filter((m) => !m.ok).map((m) => m.run),
    );
    await expectIds("status=failed&status=succeeded", [...runs, plain]);
    await expectIds(
      "tag=customer:x&status=succeeded",
      made.filter((m) => m.customer === "x" && m.ok).map((m) => m.run),
    );
    await expectIds(`requestedBy=${plain.requestedBy}`, [...runs, plain]);
    await expectIds("requestedBy=key_nobody", []);
    await expectIds("tag=nothing", []);
    const middle = runs[6] as RunView;
    await expectIds(
      `createdAfter=${middle.createdAt}`,
      [...runs, plain].filter((r) => r.createdAt >= middle.createdAt),
    );
    await expectIds(
      `createdBefore=${middle.createdAt}&tag=even`,
      runs.filter((r) => r.createdAt < middle.createdAt && r.tags.includes("even")),
    );
    await expectIds(`finishedAfter=${new Date(Date.now() - 600_000).toISOString()}`, [...runs, plain]);
    await expectIds(`finishedAfter=${new Date(Date.now() + 600_000).toISOString()}`, []);
  });

  it("a blueprint filter finds the blueprint's runs only", async () => {
    const key = await newTenantKey("acme");
    const service = await post(key, { project: "p", blueprint: "microservice", input: { name: "svc" } });
    await post(key, echo());
    expect((await search(key, "blueprint=microservice")).map((r) => r.id)).toEqual([service.id]);
    expect(await search(key, "blueprint=other")).toEqual([]);
  });

  it.each([
    ["colour=red", "colour"],
    ["tag=Bad Tag", "tag"],
    ["status=lost", "status"],
    ["createdAfter=yesterday", "createdAfter"],
    ["createdAfter=2026-01-02T00:00:00Z&createdBefore=2026-01-01T00:00:00Z", "createdBefore"],
  ])("?%s → 400 naming %s", async (query, path) => {
    const key = await newTenantKey("acme");
    const res = await api(`/v1/runs?${query}`, { key });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("request.invalid");
    expect(problem.errors.map((e) => e.path)).toEqual([path]);
  });

  it("each filter is served by an index (the query plan names one, never a scan of run_index)", async () => {
    const key = await newTenantKey("acme");
    await post(key, echo({ tags: ["a"] }));
    const filters: [RunFilter, RegExp][] = [
      [{ tags: ["a", "b"] }, /SEARCH d USING PRIMARY KEY \(tag=\?\)/],
      [{ metadata: { k: "v" } }, /SEARCH d USING PRIMARY KEY \(key=\? AND value=\?\)/],
      [{ requestedBy: "key_x" }, /run_index_requester/],
      [{ blueprint: "b" }, /run_index_blueprint/],
      [{ statuses: ["failed", "cancelled"] }, /run_index_ended/],
      [{ statuses: ["running"] }, /run_index_live|run_index_created/],
      [{ finishedAfter: 1 }, /run_index_ended/],
      [{ createdAfter: 1, createdBefore: 2 }, /run_index_created/],
      [{}, /run_index_created/],
    ];
    const plans = await runInDurableObject(env.TENANT.getByName("acme"), (_o, s) =>
      filters.map(([f]) => searchPlan(s.storage.sql, f).join(" | ")),
    );
    filters.forEach(([f, index], i) => {
      const plan = plans[i] ?? "";
      expect(plan, JSON.stringify(f)).toMatch(index);
      expect(plan, JSON.stringify(f)).not.toMatch(/SCAN r\b(?! USING)/);
    });
  });
});
