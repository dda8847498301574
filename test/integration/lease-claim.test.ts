/**
 * A long poll answered to nobody (issue 27's gap): the worker's connection drops just as the pool
 * hands it a step. The lease starts unclaimed; nobody uses it within LEASE_CLAIM_MS (10 s), so the
 * pool gives the attempt back through the run's release path and another worker runs the step,
 * long before the step's own lease (its 120 s timeout) would have expired. Fenced: the dropped
 * lease opens nothing, and the step succeeds once. A lease its worker used is never given back.
 */
import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
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

const worker = (token: string, path: string, json: unknown = {}, signal?: AbortSignal) =>
  api(`/v1/pools/external${path}`, { method: "POST", key: token, json, ...(signal ? { signal } : {}) });

/** Long polls until a step comes (each poll bounded; the whole by the test's timeout). */
async function take(token: string): Promise<Lease> {
  for (;;) {
    const res = await worker(token, "/leases", { waitMs: 15_000 });
    if (res.status === 200) return ((await res.json()) as { lease: Lease }).lease;
    expect(res.status).toBe(204);
  }
}

const LONG_STEP = {
  id: "x",
  type: "external.task",
  input: { kind: "noop" },
  // A timeout far past the claim window: the step must not wait for this lease to expire.
  timeoutMs: 120_000,
  retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 10 },
};

it("a step handed to a long poll whose client is gone is given back and run once by another worker", {
  timeout: 90_000,
}, async () => {
  const [a, b] = [await newToken(), await newToken()];
  // Worker a's long poll is waiting when the step arrives; it hangs up as the answer comes.
  const gone = new AbortController();
  const poll = worker(a, "/leases", { waitMs: 15_000 }, gone.signal);
  const run = await createRun({ project: "ext", steps: [LONG_STEP] });
  const answered = await poll;
  expect(answered.status).toBe(200);
  gone.abort(); // the body (the lease) never reaches worker a
  await answered.body?.cancel().catch(() => undefined);

  // maxAttempts is 1: had the give-back counted as a failure, there would be no attempt 2.
  const second = await take(b);
  expect(second).toMatchObject({ stepId: "x", attempt: 2 });
  expect((await worker(b, `/leases/${second.id}/result`, { outcome: "succeeded", output: { by: "b" } })).status).toBe(
    200,
  );
  const done = await waitForRun(run.id);
  expect(done.status).toBe("succeeded");
  const log = await events(run.id);
  expect(log.filter((e) => e.type === "step.released").map((e) => (e.data as { attempt: number }).attempt)).toEqual([
    1,
  ]);
  expect(log.filter((e) => e.type === "step.lease_expired")).toEqual([]);
  expect(log.filter((e) => e.type === "step.succeeded")).toHaveLength(1);
});

it("a lease its worker used (a heartbeat) is claimed and never given back", { timeout: 60_000 }, async () => {
  const a = await newToken();
  const run = await createRun({ project: "ext", steps: [LONG_STEP] });
  const first = await take(a);
  expect((await worker(a, `/leases/${first.id}/heartbeat`)).status).toBe(200);
  const pool = env.POOL.getByName("external");
  const unclaimed = await runInDurableObject(
    pool,
    (_o, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM lease WHERE claim_by IS NOT NULL").one().n,
  );
  expect(unclaimed).toBe(0);
  await runDurableObjectAlarm(pool); // whatever the pool's alarm does now, this lease stays
  expect((await worker(a, `/leases/${first.id}/result`, { outcome: "succeeded", output: {} })).status).toBe(200);
  expect((await waitForRun(run.id)).status).toBe("succeeded");
  expect((await events(run.id)).filter((e) => e.type === "step.released")).toEqual([]);
});
