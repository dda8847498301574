/**
 * Run concurrency keys (issue 28, docs/flow-control.md): a run beyond its key's limit waits in
 * `queued` with the key it waits for, starts by priority then arrival when a slot frees, and its
 * slot (or its place in the queue) is freed when it ends.
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { flowStub } from "../../src/control/flow/stub";
import { api, createRun, events, newTenantKey, waitForRun } from "../support/api";
import { intervals, overlaps, until } from "../support/flow";

afterEach(() => reset());

const keyed = (repo: string, ms: number, extra: Record<string, unknown> = {}) => ({
  project: "p",
  input: { repo },
  concurrency: [{ key: "repo:{{input.repo}}", limit: 1 }],
  steps: [{ id: "a", type: "system.sleep", input: { ms } }],
  ...extra,
});

const getRun = async (id: string, key: string) => (await (await api(`/v1/runs/${id}`, { key })).json()) as RunView;

describe("run concurrency keys", () => {
  it("a run beyond its key's limit waits queued with the key, then runs alone; another key runs beside it", async () => {
    const key = await newTenantKey("acme");
    const first = keyed("a", 400);
    const one = await createRun(first, key);
    const second = keyed("a", 50);
    const two = await createRun(second, key);
    const other = keyed("b", 50);
    const three = await createRun(other, key);
    expect(one.status).toBe("running");
    expect(one.concurrency).toEqual([{ key: "repo:a", limit: 1 }]);
    // The second waits for repo:a (it may already have started if the first finished: read its log).
    const log = await until(
      "the second run's waiting event",
      () => events(two.id, key),
      (l) => l.some((e) => e.type === "run.waiting"),
    );
    expect(log.find((e) => e.type === "run.waiting")?.data).toMatchObject({ reason: "concurrency.key", key: "repo:a" });
    const done = await Promise.all([one, two, three].map((r) => waitForRun(r.id, { key })));
    expect(done.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const [a1, a2] = await intervals([one, two], key);
    expect(a2!.from).toBeGreaterThanOrEqual(a1!.to);
    // Released on the end: the key forgets both runs.
    const state = await until(
      "repo:a released",
      () => flowStub(env, "acme", "repo:a").state(),
      (s) => s.holders.length === 0,
    );
    expect(state.waiters).toEqual([]);
  });

  it("a waiting run shows what it waits for on the run", async () => {
    const key = await newTenantKey("acme");
    const holder = keyed("w", 3_000);
    const one = await createRun(holder, key);
    const waiter = keyed("w", 10);
    const two = await createRun(waiter, key);
    const seen = await until(
      "the waiting run's view",
      () => getRun(two.id, key),
      (r) => r.waiting !== undefined || r.status !== "queued",
    );
    expect(seen.status).toBe("queued");
    expect(seen.waiting).toEqual({ reason: "concurrency.key", key: "repo:w" });
    // Cancelling the holder frees the slot for the waiter.
    expect((await api(`/v1/runs/${one.id}/cancel`, { method: "POST", key })).status).toBe(200);
    expect((await waitForRun(two.id, { key })).status).toBe("succeeded");
  });

  it("waiting runs start by priority, then in order of arrival", async () => {
    const key = await newTenantKey("acme");
    const holder = keyed("p", 1_500);
    const first = await createRun(holder, key);
    const order: RunView[] = [];
    for (const priority of ["low", "normal", "high", "normal"]) {
      const body = keyed("p", 20, { priority });
      order.push(await createRun(body, key));
      // Each asks the key before the next is created: arrival order is creation order.
      await until(
        "queued at the key",
        () => flowStub(env, "acme", "repo:p").state(),
        (s) => s.waiters.includes(order.at(-1)!.id) || s.holders.includes(order.at(-1)!.id),
      );
    }
    const done = await Promise.all([first, ...order].map((r) => waitForRun(r.id, { key })));
    expect(done.every((r) => r.status === "succeeded")).toBe(true);
    const started = (r: RunView) => Date.parse(done.find((d) => d.id === r.id)!.startedAt!);
    const [low, normal1, high, normal2] = order;
    expect(started(high!)).toBeLessThan(started(normal1!));
    expect(started(normal1!)).toBeLessThan(started(normal2!));
    expect(started(normal2!)).toBeLessThan(started(low!));
  });

  it("a run cancelled while it waits leaves the key's queue", async () => {
    const key = await newTenantKey("acme");
    const holder = keyed("c", 1_000);
    const one = await createRun(holder, key);
    const waiter = keyed("c", 10);
    const two = await createRun(waiter, key);
    await until(
      "queued at the key",
      () => flowStub(env, "acme", "repo:c").state(),
      (s) => s.waiters.includes(two.id),
    );
    expect((await api(`/v1/runs/${two.id}/cancel`, { method: "POST", key })).status).toBe(200);
    await until(
      "the cancelled run left the queue",
      () => flowStub(env, "acme", "repo:c").state(),
      (s) => !s.waiters.includes(two.id),
    );
    expect((await waitForRun(one.id, { key })).status).toBe("succeeded");
  });

  it("a kill of every object while runs wait loses none and admits none twice", async () => {
    const key = await newTenantKey("acme");
    const runs: RunView[] = [];
    for (let i = 0; i < 6; i++) {
      const body = keyed("k", 150);
      runs.push(await createRun(body, key));
    }
    await abortAllDurableObjects();
    const done = await Promise.all(runs.map((r) => waitForRun(r.id, { key, timeoutMs: 60_000 })));
    expect(done.map((r) => r.status)).toEqual(runs.map(() => "succeeded"));
    expect(overlaps(await intervals(runs, key))).toBe(0);
  });
});

describe("bad concurrency keys are refused at creation", () => {
  const post = (body: unknown) => api("/v1/runs", { method: "POST", json: body });
  const base = { project: "p", input: { repo: "r" }, steps: [{ id: "a", type: "system.sleep", input: { ms: 1 } }] };
  const fields = async (res: Response) =>
    ((await res.json()) as { code: string; errors?: { path: string }[] }).errors?.map((e) => e.path) ?? [];

  it("a template naming a missing input path: 400 with the field", async () => {
    const res = await post({ ...base, concurrency: [{ key: "{{input.organization}}", limit: 1 }] });
    expect(res.status).toBe(400);
    expect(await fields(res)).toEqual(["concurrency.0.key"]);
  });

  it("a limit below 1 or above the maximum: 400", async () => {
    for (const limit of [0, 1_001, 1.5]) {
      const res = await post({ ...base, concurrency: [{ key: "{{input.repo}}", limit }] });
      expect(res.status, String(limit)).toBe(400);
      expect(await fields(res)).toEqual(["concurrency.0.limit"]);
    }
  });

  it("more than 3 keys: 400", async () => {
    const concurrency = ["a", "b", "c", "d"].map((k) => ({ key: k, limit: 1 }));
    const res = await post({ ...base, concurrency });
    expect(res.status).toBe(400);
    expect(await fields(res)).toEqual(["concurrency"]);
  });

  it("a template that is no input path: 400", async () => {
    const res = await post({ ...base, concurrency: [{ key: "{{secret.x}}", limit: 1 }] });
    expect(res.status).toBe(400);
    expect(await fields(res)).toEqual(["concurrency.0.key"]);
  });
});
