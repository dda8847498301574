/**
 * A worker gives its leased step back (graceful shutdown): the attempt ends `released`, the step is
 * dispatched again at once as a new attempt that the retry policy does not count, and the released
 * lease opens nothing any more.
 */
import { reset } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { ADMIN_TOKEN, api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

interface Lease {
  id: string;
  stepId: string;
  attempt: number;
}

async function newToken(): Promise<string> {
  const res = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

const worker = (token: string, path: string, json: unknown = {}) =>
  api(`/v1/pools/external${path}`, { method: "POST", key: token, json });

async function take(token: string): Promise<Lease> {
  const res = await worker(token, "/leases", { waitMs: 10_000 });
  expect(res.status).toBe(200);
  return ((await res.json()) as { lease: Lease }).lease;
}

it("a released step is re-leased at once as attempt 2, its retry budget untouched; the released lease is refused", async () => {
  const [a, b] = [await newToken(), await newToken()];
  // Two attempts allowed: if the release counted as one, the failure of attempt 2 would end the step.
  const run = await createRun({
    project: "ext",
    steps: [
      {
        id: "x",
        type: "external.task",
        input: { kind: "noop" },
        retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 },
      },
    ],
  });
  const first = await take(a);
  expect(first.attempt).toBe(1);

  const released = await worker(a, `/leases/${first.id}/release`);
  expect(released.status).toBe(200);
  // Replays of the released lease find nothing: not the release, not a result.
  for (const path of ["release", "heartbeat", "result"]) {
    const res = await worker(a, `/leases/${first.id}/${path}`, { outcome: "succeeded", output: {} });
    expect(res.status, path).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("lease.not_found");
  }

  const second = await take(b);
  expect(second).toMatchObject({ stepId: "x", attempt: 2 });
  const failed = await worker(b, `/leases/${second.id}/result`, {
    outcome: "failed",
    error: { code: "worker.flaky", message: "try again", retryable: true },
  });
  expect(failed.status).toBe(200);
  const third = await take(b);
  expect(third.attempt).toBe(3);
  expect((await worker(b, `/leases/${third.id}/result`, { outcome: "succeeded", output: { ok: 1 } })).status).toBe(200);

  const done = await waitForRun(run.id);
  expect(done.status).toBe("succeeded");
  expect(done.steps[0]).toMatchObject({ attempts: 3, output: { ok: 1 } });
  const log = await events(run.id);
  expect(log.filter((e) => e.type === "step.released")).toEqual([
    expect.objectContaining({ stepId: "x", data: { attempt: 1 } }),
  ]);
  // Only the real failure was a retry.
  expect(log.filter((e) => e.type === "step.retrying").map((e) => (e.data as { attempt: number }).attempt)).toEqual([
    2,
  ]);
});

it("a release of an attempt the run no longer runs is lease.lapsed and changes nothing", async () => {
  const token = await newToken();
  const run = await createRun({
    project: "ext",
    steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
  });
  const lease = await take(token);
  expect((await api(`/v1/runs/${run.id}/cancel`, { method: "POST" })).status).toBe(200);
  const res = await worker(token, `/leases/${lease.id}/release`);
  expect(res.status).toBe(409);
  expect(((await res.json()) as { code: string }).code).toBe("lease.lapsed");
  const after = await waitForRun(run.id);
  expect(after.status).toBe("cancelled");
  expect(after.steps[0]).toMatchObject({ status: "cancelled", attempts: 1 });
  expect((await events(run.id)).some((e) => e.type === "step.released")).toBe(false);
});

it("a lease names the step's heartbeat timeout, and a result's logs become the step's log events", async () => {
  const token = await newToken();
  const run = await createRun({
    project: "ext",
    steps: [
      { id: "hb", type: "external.task", input: { kind: "noop" }, heartbeatTimeoutMs: 5_000 },
      { id: "plain", type: "external.task", input: { kind: "noop" }, dependsOn: ["hb"] },
    ],
  });
  const first = (await take(token)) as Lease & { heartbeatTimeoutMs: number | null };
  expect(first.heartbeatTimeoutMs).toBe(5_000);
  const logs = [
    { level: "info", message: "linting", fields: { files: 3 } },
    { level: "warn", message: "slow disk" },
  ];
  expect((await worker(token, `/leases/${first.id}/result`, { outcome: "succeeded", output: {}, logs })).status).toBe(
    200,
  );
  const second = (await take(token)) as Lease & { heartbeatTimeoutMs: number | null };
  expect(second.heartbeatTimeoutMs).toBeNull();
  const tooMany = Array.from({ length: 51 }, () => ({ level: "info", message: "x" }));
  const refused = await worker(token, `/leases/${second.id}/result`, {
    outcome: "failed",
    error: { code: "worker.error", message: "no", retryable: false },
    logs: tooMany,
  });
  expect(refused.status).toBe(400);
  expect(
    (
      await worker(token, `/leases/${second.id}/result`, {
        outcome: "failed",
        error: { code: "worker.error", message: "no", retryable: false },
        logs: [{ level: "error", message: "gave up" }],
      })
    ).status,
  ).toBe(200);
  await waitForRun(run.id);
  const lines = (await events(run.id)).filter((e) => e.type === "step.log");
  expect(lines.map((e) => [e.stepId, e.data])).toEqual([
    ["hb", { attempt: 1, level: "info", message: "linting", fields: { files: 3 } }],
    ["hb", { attempt: 1, level: "warn", message: "slow disk" }],
    ["plain", { attempt: 1, level: "error", message: "gave up" }],
  ]);
});

it("the lease call accepts the SDKs' kinds, labels and workerId", async () => {
  const token = await newToken();
  const res = await worker(token, "/leases", {
    waitMs: 0,
    kinds: ["lint"],
    labels: { gpu: "a100" },
    workerId: "w-1",
  });
  expect(res.status).toBe(204);
  const bad = await worker(token, "/leases", { waitMs: 0, colour: "red" });
  expect(bad.status).toBe(400);
});
