/**
 * Step keys (issue 28, docs/flow-control.md "Step keys"): a step's `concurrency` and `rateLimit`,
 * on the step or its tenant job type. A step beyond its key waits undispatched (no attempt, no
 * queue message), shows the key it waits for, and is dispatched when the key admits it; bad keys
 * are refused at creation with the field.
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { rateStub, stepFlowStub, stepTicket } from "../../src/control/flow/stub";
import { api, createRun, events, newTenantKey, waitForRun } from "../support/api";
import { until } from "../support/flow";

afterEach(() => reset());

const SCOPES = { scopes: ["runs:read", "runs:write", "workers:manage"] };

const sleepStep = (id: string, ms: number, extra: Record<string, unknown> = {}) => ({
  id,
  type: "system.sleep",
  input: { ms },
  ...extra,
});

async function problem(res: Response, code: string): Promise<{ errors?: { path: string; message: string }[] }> {
  const text = await res.text();
  expect(res.status, text).toBe(400);
  const body = JSON.parse(text) as { code: string; errors?: { path: string; message: string }[] };
  expect(body.code, text).toBe(code);
  return body;
}

const getRun = async (id: string, key: string) => (await (await api(`/v1/runs/${id}`, { key })).json()) as RunView;

describe("bad step keys are refused at creation", () => {
  const bad: [string, Record<string, unknown>, string, string][] = [
    [
      "a concurrency key naming a missing input path",
      { concurrency: { key: "{{input.repo}}", limit: 1 } },
      "request.invalid",
      "steps[0].concurrency.key",
    ],
    [
      "a rate key naming a missing input path",
      { rateLimit: { key: "org:{{input.org}}", limit: 5, periodMs: 1000 } },
      "request.invalid",
      "steps[0].rateLimit.key",
    ],
    [
      "a template that does not name the input",
      { concurrency: { key: "{{run.id}}", limit: 1 } },
      "request.invalid",
      "steps[0].concurrency.key",
    ],
    [
      "a concurrency limit of 0",
      { concurrency: { key: "k", limit: 0 } },
      "request.invalid",
      "steps.0.concurrency.limit",
    ],
    [
      "a concurrency limit over 1000",
      { concurrency: { key: "k", limit: 1001 } },
      "request.invalid",
      "steps.0.concurrency.limit",
    ],
    [
      "a rate period under 100 ms",
      { rateLimit: { key: "k", limit: 5, periodMs: 99 } },
      "request.invalid",
      "steps.0.rateLimit.periodMs",
    ],
    [
      "a rate period over an hour",
      { rateLimit: { key: "k", limit: 5, periodMs: 3_600_001 } },
      "request.invalid",
      "steps.0.rateLimit.periodMs",
    ],
    [
      "a rate limit of 0",
      { rateLimit: { key: "k", limit: 0, periodMs: 1000 } },
      "request.invalid",
      "steps.0.rateLimit.limit",
    ],
    [
      "a rate key without a period",
      { rateLimit: { key: "k", limit: 5 } },
      "request.invalid",
      "steps.0.rateLimit.periodMs",
    ],
    ["an empty key", { concurrency: { key: "", limit: 1 } }, "request.invalid", "steps.0.concurrency.key"],
    [
      "an unknown field in a key",
      { concurrency: { key: "k", limit: 1, burst: 2 } },
      "request.invalid",
      "steps.0.concurrency",
    ],
  ];
  for (const [what, keys, code, path] of bad)
    it(`${what}: 400 with the field`, async () => {
      const key = await newTenantKey("bad");
      const body = await problem(
        await api("/v1/runs", { method: "POST", key, json: { project: "p", steps: [sleepStep("a", 0, keys)] } }),
        code,
      );
      expect(
        body.errors?.map((e) => e.path.replace(/\[(\d+)\]/g, ".$1")),
        JSON.stringify(body),
      ).toContainEqual(path.replace(/\[(\d+)\]/g, ".$1"));
    });

  it("a job type's key template naming a path its step's input lacks: 400 at the run's creation", async () => {
    const key = await newTenantKey("badtype", SCOPES);
    expect((await api("/v1/pools", { method: "POST", key, json: { name: "linters" } })).status).toBe(201);
    const type = await api("/v1/job-types", {
      method: "POST",
      key,
      json: {
        name: "acme.deploy",
        pool: "linters",
        input: { type: "object" },
        output: { type: "object" },
        concurrency: { key: "{{input.repo}}", limit: 1 },
      },
    });
    expect(type.status, await type.clone().text()).toBe(201);
    const body = await problem(
      await api("/v1/runs", {
        method: "POST",
        key,
        json: { project: "p", steps: [{ id: "d", type: "acme.deploy", input: {} }] },
      }),
      "request.invalid",
    );
    expect(body.errors).toContainEqual(expect.objectContaining({ path: "steps[0].concurrency.key" }));
    // Bounds are checked when the job type is registered.
    const refused = await api("/v1/job-types", {
      method: "POST",
      key,
      json: {
        name: "acme.deploy",
        pool: "linters",
        input: { type: "object" },
        output: { type: "object" },
        rateLimit: { key: "k", limit: 5, periodMs: 10 },
      },
    });
    expect(refused.status).toBe(400);
  });
});

/** Spans of each step of `stepId` in `runs`: its dispatch, start and end times, from the runs' logs. */
async function spans(runs: RunView[], key: string) {
  const out: { run: string; step: string; queued: number[]; tokens: number[]; from: number; to: number }[] = [];
  for (const run of runs) {
    const res = await api(`/v1/runs/${run.id}/events?limit=1000`, { key });
    const items = (
      (await res.json()) as {
        items: { type: string; stepId?: string; occurredAt: string; data?: Record<string, unknown> }[];
      }
    ).items;
    for (const step of run.steps) {
      const of = items.filter((e) => e.stepId === step.id);
      const at = (t: string) => Date.parse(of.find((e) => e.type === t)?.occurredAt ?? "");
      out.push({
        run: run.id,
        step: step.id,
        queued: of.filter((e) => e.type === "step.queued").map((e) => Date.parse(e.occurredAt)),
        tokens: of.filter((e) => e.type === "step.queued" && e.data?.tokenAt).map((e) => Number(e.data?.tokenAt)),
        from: at("step.started"),
        to: at("step.succeeded"),
      });
    }
  }
  return out;
}

/** The most timestamps any window of `periodMs` holds. */
function busiestWindow(times: number[], periodMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= periodMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("step concurrency keys", () => {
  it("a step beyond its key's limit waits undispatched, shows its key, then runs after the holder", async () => {
    const key = await newTenantKey("steps");
    const holder = await createRun(
      { project: "p", steps: [sleepStep("a", 2_000, { concurrency: { key: "deploy", limit: 1 } })] },
      key,
    );
    const waiter = await createRun(
      { project: "p", steps: [sleepStep("a", 10, { concurrency: { key: "deploy", limit: 1 } })] },
      key,
    );
    expect(holder.steps[0]?.concurrency).toEqual({ key: "deploy", limit: 1 });
    // The second waits for the key with no attempt (its log says so whether or not it has started since).
    const log = await until(
      "the waiting step's event",
      () => events(waiter.id, key),
      (l) => l.some((e) => e.type === "step.waiting"),
    );
    const waiting = log.find((e) => e.type === "step.waiting");
    expect(waiting?.data).toMatchObject({ kind: "flow", reason: "concurrency.key", key: "deploy", attempt: 1 });
    // Waiting, it was not dispatched: its first step.queued (if any yet) comes after.
    const queuedAt = log.findIndex((e) => e.type === "step.queued");
    if (queuedAt >= 0) expect(log.findIndex((e) => e.type === "step.waiting")).toBeLessThan(queuedAt);
    const seen = await getRun(waiter.id, key);
    if (seen.steps[0]?.status === "pending") {
      expect(seen.steps[0].waiting).toEqual({ reason: "concurrency.key", key: "deploy" });
      expect(seen.steps[0].attempts).toBe(0);
    }
    const done = await Promise.all([holder, waiter].map((r) => waitForRun(r.id, { key, timeoutMs: 60_000 })));
    expect(done.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    const [h, w] = await spans(done, key);
    expect(w!.from).toBeGreaterThanOrEqual(h!.to);
    const state = await until(
      "deploy released",
      () => stepFlowStub(env, "steps", "deploy").state(),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
    );
    expect(state.key).toBe("deploy");
  });

  it("a key template resolves against the step's input; a job type's keys are its steps' unless a step names its own", async () => {
    const key = await newTenantKey("typed", SCOPES);
    expect((await api("/v1/pools", { method: "POST", key, json: { name: "deployers" } })).status).toBe(201);
    const type = await api("/v1/job-types", {
      method: "POST",
      key,
      json: {
        name: "acme.deploy",
        pool: "deployers",
        input: { type: "object", properties: { repo: { type: "string" } } },
        output: { type: "object" },
        concurrency: { key: "repo:{{input.repo}}", limit: 1 },
        rateLimit: { key: "azure", limit: 5, periodMs: 1000 },
      },
    });
    expect(type.status, await type.clone().text()).toBe(201);
    expect(await type.json()).toMatchObject({ concurrency: { key: "repo:{{input.repo}}", limit: 1 } });
    const run = await createRun(
      {
        project: "p",
        steps: [
          {
            id: "echo",
            type: "system.echo",
            input: { org: "contoso" },
            rateLimit: { key: "org:{{input.org}}", limit: 2, periodMs: 500 },
          },
          { id: "d1", type: "acme.deploy", input: { repo: "api" } },
          { id: "d2", type: "acme.deploy", input: { repo: "web" }, concurrency: { key: "mine", limit: 3 } },
        ],
      },
      key,
    );
    const byId = new Map(run.steps.map((s) => [s.id, s]));
    expect(byId.get("echo")?.rateLimit).toEqual({ key: "org:contoso", limit: 2, periodMs: 500 });
    expect(byId.get("d1")?.concurrency).toEqual({ key: "repo:api", limit: 1 });
    expect(byId.get("d1")?.rateLimit).toEqual({ key: "azure", limit: 5, periodMs: 1000 });
    expect(byId.get("d2")?.concurrency).toEqual({ key: "mine", limit: 3 });
    // The deploys wait for a worker of the tenant's pool that never comes: cancelling gives their slots back.
    await until(
      "d1 holds repo:api",
      () => stepFlowStub(env, "typed", "repo:api").state(),
      (s) => s.holders.includes(stepTicket(run.id, "d1")),
    );
    expect((await api(`/v1/runs/${run.id}/cancel`, { method: "POST", key, json: {} })).status).toBeLessThan(300);
    await until(
      "repo:api released",
      () => stepFlowStub(env, "typed", "repo:api").state(),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
    );
  });

  it("a cancelled run's waiting step gives up its place in the key's queue", async () => {
    const key = await newTenantKey("cancel");
    const holder = await createRun(
      { project: "p", steps: [sleepStep("a", 1_500, { concurrency: { key: "k", limit: 1 } })] },
      key,
    );
    const waiter = await createRun(
      { project: "p", steps: [sleepStep("a", 10, { concurrency: { key: "k", limit: 1 } })] },
      key,
    );
    await until(
      "the second step queued at k",
      () => stepFlowStub(env, "cancel", "k").state(),
      (s) => s.waiters.includes(stepTicket(waiter.id, "a")) || s.holders.includes(stepTicket(waiter.id, "a")),
    );
    expect((await api(`/v1/runs/${waiter.id}/cancel`, { method: "POST", key, json: {} })).status).toBeLessThan(300);
    expect((await waitForRun(holder.id, { key })).status).toBe("succeeded");
    await until(
      "k empty",
      () => stepFlowStub(env, "cancel", "k").state(),
      (s) => s.holders.length === 0 && s.waiters.length === 0,
    );
  });
});

describe("step rate keys", () => {
  it("5 per 1000 ms: no window of 1000 ms holds more than 5 attempt admissions of the key, and every step finishes", async () => {
    const key = await newTenantKey("rated");
    const rate = { rateLimit: { key: "org:{{input.org}}", limit: 5, periodMs: 1000 } };
    const runs: RunView[] = [];
    for (let r = 0; r < 4; r++)
      runs.push(
        await createRun(
          {
            project: "p",
            steps: Array.from({ length: 4 }, (_, i) => ({
              id: `s${i}`,
              type: "system.echo",
              input: { org: "acme" },
              ...rate,
            })),
          },
          key,
        ),
      );
    const done = await Promise.all(runs.map((r) => waitForRun(r.id, { key, timeoutMs: 120_000 })));
    expect(done.map((r) => r.status)).toEqual(done.map(() => "succeeded"));
    const all = await spans(done, key);
    expect(all).toHaveLength(16);
    expect(all.flatMap((s) => s.queued)).toHaveLength(16);
    // Each attempt's admission by the key, logged with its dispatch: the instant its token was
    // taken, on the key's clock. (The dispatch follows it by a call to the run, which a loaded
    // machine may stretch, so dispatch times themselves are not what is exact.)
    const tokens = all.flatMap((s) => s.tokens);
    expect(tokens).toHaveLength(16);
    expect(busiestWindow(tokens, 1000), JSON.stringify(tokens)).toBeLessThanOrEqual(5);
    // It limited: 16 tokens at 5 a second took more than three periods.
    expect(Math.max(...tokens) - Math.min(...tokens)).toBeGreaterThanOrEqual(3000);
    // The key's own record of the tokens it gave, at the instant it gave them: never more than 5 a window.
    const state = await rateStub(env, "rated", "org:acme").rateState();
    expect(state).toMatchObject({ key: "org:acme", limit: 5, periodMs: 1000, waiters: [] });
  });

  it("a retried attempt keeps its concurrency slot but takes a new rate token", async () => {
    const key = await newTenantKey("retried");
    const run = await createRun(
      {
        project: "p",
        steps: [
          {
            id: "f",
            type: "system.fail",
            input: { times: 1 },
            retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10 },
            concurrency: { key: "c", limit: 1 },
            rateLimit: { key: "r", limit: 10, periodMs: 60_000 },
          },
        ],
      },
      key,
    );
    expect((await waitForRun(run.id, { key, timeoutMs: 60_000 })).status).toBe("succeeded");
    const log = await events(run.id, key);
    const waits = log.filter((e) => e.type === "step.waiting").map((e) => [e.data.reason, e.data.attempt]);
    // One wait for the slot, one per attempt for a token; never a second slot.
    expect(waits).toEqual([
      ["concurrency.key", 1],
      ["rate.key", 1],
      ["rate.key", 2],
    ]);
    const state = await rateStub(env, "retried", "r").rateState();
    expect(state.taken.map((t) => t.attempt)).toEqual([1, 2]);
  });
});
