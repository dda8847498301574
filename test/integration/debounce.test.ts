/**
 * Run debounce (issue 28, docs/flow-control.md#debounce): runs of one key created within the
 * period collapse into one run, which starts a period after the last creation with the last
 * creation's graph and labels; a creation after it started opens a new run; a kill between
 * creations loses nothing and never opens two runs for one window.
 */
import { abortAllDurableObjects, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { debounceStub } from "../../src/control/debounce/stub";
import { api, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

/** Long enough that consecutive POSTs of a test fall within it on a loaded machine. */
const PERIOD = 10_000;

const debounced = (repo: string, n: number, extra: Record<string, unknown> = {}) => ({
  project: "p",
  input: { repo, n },
  debounce: { key: "repo:{{input.repo}}", periodMs: PERIOD },
  metadata: { n: String(n) },
  steps: [{ id: `s${n}`, type: "system.sleep", input: { ms: 10 } }],
  ...extra,
});

async function post(body: unknown, key: string, headers: Record<string, string> = {}) {
  const res = await api("/v1/runs", { method: "POST", json: body, key, headers });
  if (res.status !== 202) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return { run: (await res.json()) as RunView, debounced: res.headers.get("debounced") === "true", res };
}

const runsOf = async (key: string, project = "p") =>
  ((await (await api(`/v1/runs?project=${project}&limit=100`, { key })).json()) as { items: { id: string }[] }).items;

describe("run debounce", () => {
  it("10 creations within the period are one run, started a period after the last, with the last's graph and labels", async () => {
    const key = await newTenantKey("acme");
    const answers = [];
    let lastPostAt = 0;
    for (let n = 0; n < 10; n++) {
      lastPostAt = Date.now();
      answers.push(await post(debounced("a", n), key));
    }
    const id = answers[0]!.run.id;
    expect(answers.map((a) => a.run.id)).toEqual(answers.map(() => id));
    expect(answers.map((a) => a.debounced)).toEqual([false, ...Array(9).fill(true)]);
    const last = answers[9]!.run;
    expect(last.status).toBe("queued");
    expect(last.waiting).toMatchObject({ reason: "debounce", key: "repo:a" });
    expect(last.metadata).toEqual({ n: "9" });
    const done = await waitForRun(id, { key, timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s) => s.id)).toEqual(["s9"]);
    expect(done.metadata).toEqual({ n: "9" });
    const log = await events(id, key);
    expect(log.find((e) => e.type === "run.waiting")?.data).toMatchObject({ reason: "debounce", key: "repo:a" });
    // A timer never fires early: the start is at least a period after the last creation was sent.
    const startedEvent = log.find((e) => e.type === "run.started") as { occurredAt?: string } | undefined;
    const started = Date.parse(startedEvent?.occurredAt ?? "");
    expect(started).toBeGreaterThanOrEqual(lastPostAt + PERIOD);
    expect((await runsOf(key)).map((r) => r.id)).toEqual([id]);
  });

  it("a creation after the run started opens a new run; another key is a run of its own", async () => {
    const key = await newTenantKey("acme");
    const short = { debounce: { key: "repo:{{input.repo}}", periodMs: 200 } };
    const first = await post(debounced("b", 1, short), key);
    const other = await post(debounced("c", 1, short), key);
    expect(other.run.id).not.toBe(first.run.id);
    await waitForRun(first.run.id, { key });
    const next = await post(debounced("b", 2, short), key);
    expect(next.debounced).toBe(false);
    expect(next.run.id).not.toBe(first.run.id);
    expect((await waitForRun(next.run.id, { key })).steps.map((s) => s.id)).toEqual(["s2"]);
  });

  it("a kill between creations loses nothing and opens one run for the window", async () => {
    const key = await newTenantKey("acme");
    const one = await post(debounced("k", 1), key);
    await abortAllDurableObjects();
    const two = await post(debounced("k", 2), key);
    await abortAllDurableObjects();
    const three = await post(debounced("k", 3), key);
    expect([two.run.id, three.run.id]).toEqual([one.run.id, one.run.id]);
    const done = await waitForRun(one.run.id, { key, timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s) => s.id)).toEqual(["s3"]);
    expect((await runsOf(key)).map((r) => r.id)).toEqual([one.run.id]);
  });

  it("a request that died after claiming the window leaves its run id to the next, which creates it", async () => {
    const key = await newTenantKey("acme");
    const claim = await debounceStub(env, "acme", "p", "repo:d").claim();
    if ("conflict" in claim) throw new Error("no idempotency key was given");
    expect(claim.fresh).toBe(true);
    const next = await post(debounced("d", 1), key);
    expect(next.run.id).toBe(claim.runId);
    const again = await post(debounced("d", 2), key);
    expect(again.run.id).toBe(claim.runId);
    expect((await waitForRun(claim.runId, { key, timeoutMs: 60_000 })).steps.map((s) => s.id)).toEqual(["s2"]);
    expect((await runsOf(key)).map((r) => r.id)).toEqual([claim.runId]);
  });

  it("a cancelled pending run frees its key: the next creation opens a new run", async () => {
    const key = await newTenantKey("acme");
    const one = await post(debounced("x", 1), key);
    expect((await api(`/v1/runs/${one.run.id}/cancel`, { method: "POST", key })).status).toBe(200);
    const two = await post(debounced("x", 2), key);
    expect(two.run.id).not.toBe(one.run.id);
    expect(two.debounced).toBe(false);
    expect((await waitForRun(one.run.id, { key })).status).toBe("cancelled");
  });

  it("an Idempotency-Key's replay answers the run its first request joined", async () => {
    const key = await newTenantKey("acme");
    const one = await post(debounced("i", 1), key, { "idempotency-key": "k1" });
    const two = await post(debounced("i", 2), key, { "idempotency-key": "k2" });
    const replay = await post(debounced("i", 2), key, { "idempotency-key": "k2" });
    expect([two.run.id, replay.run.id]).toEqual([one.run.id, one.run.id]);
    expect(replay.res.headers.get("idempotent-replayed")).toBe("true");
    const conflict = await api("/v1/runs", {
      method: "POST",
      key,
      json: debounced("i", 3),
      headers: { "idempotency-key": "k2" },
    });
    expect(conflict.status).toBe(409);
  });

  it("with concurrency keys: the debounce first, then the key", async () => {
    const key = await newTenantKey("acme");
    const both = {
      debounce: { key: "{{input.repo}}", periodMs: 200 },
      concurrency: [{ key: "repo:{{input.repo}}", limit: 1 }],
    };
    // A run holding the key while the debounce wait ends: the debounced run then waits on the key.
    const holder = await post(
      {
        project: "p",
        input: { repo: "q" },
        concurrency: [{ key: "repo:{{input.repo}}", limit: 1 }],
        steps: [{ id: "hold", type: "system.sleep", input: { ms: 3_000 } }],
      },
      key,
    );
    const one = await post(debounced("q", 1, both), key);
    const done = await waitForRun(one.run.id, { key, timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    expect(done.concurrency).toEqual([{ key: "repo:q", limit: 1 }]);
    const reasons = (await events(one.run.id, key)).filter((e) => e.type === "run.waiting").map((e) => e.data?.reason);
    // `run.waiting` for a key is logged only when its object answers "wait" (docs/flow-control.md).
    expect(reasons).toEqual(["debounce", "concurrency.key"]);
    expect((await waitForRun(holder.run.id, { key })).status).toBe("succeeded");
  });
});

describe("bad debounce input is refused at creation", () => {
  const base = { project: "p", input: { repo: "r" }, steps: [{ id: "a", type: "system.sleep", input: { ms: 1 } }] };
  const fields = async (res: Response) =>
    ((await res.json()) as { errors?: { path: string }[] }).errors?.map((e) => e.path) ?? [];
  const refused = (body: unknown) => api("/v1/runs", { method: "POST", json: body });

  it("a template naming a missing input path: 400 with the field", async () => {
    const res = await refused({ ...base, debounce: { key: "{{input.organization}}", periodMs: 1_000 } });
    expect(res.status).toBe(400);
    expect(await fields(res)).toEqual(["debounce.key"]);
  });

  it("a period below 100 ms, above 7 days or not an integer: 400 with the field", async () => {
    for (const periodMs of [99, 7 * 24 * 3_600_000 + 1, 150.5]) {
      const res = await refused({ ...base, debounce: { key: "k", periodMs } });
      expect(res.status).toBe(400);
      expect(await fields(res)).toEqual(["debounce.periodMs"]);
    }
  });

  it("an unknown field or a missing period: 400", async () => {
    for (const debounce of [{ key: "k" }, { key: "k", periodMs: 1_000, leading: true }, { key: "", periodMs: 1_000 }]) {
      const res = await refused({ ...base, debounce });
      expect(res.status).toBe(400);
    }
  });
});
