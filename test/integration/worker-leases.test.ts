/**
 * The external workers' pull API under attack: a lease is a secret the pool issued to one token
 * for one attempt of one of its own steps. Every other way in (a guessed `run.step.attempt` id, a
 * queue pool's step, another token's lease, a forged or spent lease, a revoked token) is refused
 * and leaves the run exactly as it was.
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runStub } from "../../src/control/run/stub";
import { attemptSpan, spanIdOf, traceparentOf } from "../../src/lib/trace";
import { ADMIN_TOKEN, api, createRun, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

interface Lease {
  id: string;
  runId: string;
  stepId: string;
  attempt: number;
  traceparent: string;
}

let tokens: { id: string; token: string }[] = [];

async function newToken(): Promise<{ id: string; token: string }> {
  const res = await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

const worker = (token: string, path: string, init: RequestInit & { json?: unknown } = {}) =>
  api(`/v1/pools/external${path}`, { method: "POST", key: token, ...init });

async function take(token: string): Promise<Lease> {
  const res = await worker(token, "/leases", { json: { waitMs: 5_000 } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { lease: Lease }).lease;
}

/** Everything a forged call could have changed: statuses, attempts, outputs, the event log, artifacts. */
async function snapshot(runId: string, key?: string) {
  const run = (await (await api(`/v1/runs/${runId}`, key ? { key } : {})).json()) as {
    status: string;
    steps: unknown[];
  };
  const artifacts = (await (await api(`/v1/runs/${runId}/artifacts`, key ? { key } : {})).json()) as {
    items: unknown[];
  };
  return {
    status: run.status,
    steps: run.steps,
    events: (await events(runId, key)).length,
    artifacts: artifacts.items,
  };
}

/** Each worker endpoint a lease id opens, with a harmless body. */
const ENDPOINTS = [
  { path: "heartbeat", init: { json: {} } },
  { path: "artifacts/forged.txt", init: { method: "PUT", body: "forged", headers: { "content-type": "text/plain" } } },
  { path: "result", init: { json: { outcome: "succeeded", output: { forged: true }, artifacts: [] } } },
] as const;

async function expectRefusedEverywhere(token: string, leaseId: string, status: 401 | 404) {
  for (const { path, init } of ENDPOINTS) {
    const res = await worker(token, `/leases/${encodeURIComponent(leaseId)}/${path}`, init);
    expect(res.status, `${path} with ${leaseId}`).toBe(status);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    if (status === 404) expect(((await res.json()) as { code: string }).code).toBe("lease.not_found");
  }
}

beforeEach(async () => {
  tokens = [await newToken(), await newToken()];
});

describe("worker leases", () => {
  it("a lease id is an unguessable secret, not the attempt's name", async () => {
    const run = await createRun({
      project: "ext",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const lease = await take(tokens[0]!.token);
    expect(lease.id).toMatch(/^lse_[0-9a-z]{40}$/);
    expect(lease.id).not.toContain(run.id);
    // The worker's own calls join the run's trace under the attempt's span.
    expect(lease.traceparent).toBe(traceparentOf(run.traceId, spanIdOf(run.id, attemptSpan("x", lease.attempt))));
  });

  it("a guessed lease id for another tenant's running queue step reaches nothing", async () => {
    const acme = await newTenantKey("acme");
    const victim = await createRun(
      { project: "p", steps: [{ id: "z", type: "system.sleep", input: { ms: 4_000 } }] },
      acme,
    );
    // Running in the system pool (a queue consumer has begun it; behind a busy queue its first
    // dispatch may lapse, so whichever attempt runs is the one a guesser aims at).
    for (
      let i = 0;
      i < 1_500 && (await snapshot(victim.id, acme)).steps.every((s) => (s as { status: string }).status !== "running");
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = await snapshot(victim.id, acme);
    expect(before.steps).toEqual([expect.objectContaining({ id: "z", status: "running" })]);
    const attempt = (before.steps[0] as { attempts: number }).attempts;
    await expectRefusedEverywhere(tokens[0]!.token, `${victim.id}.z.${attempt}`, 404);
    expect(await snapshot(victim.id, acme)).toEqual(before);
    // The run object itself refuses a worker of another pool, whatever it presents.
    expect(await runStub(env, victim.id).attemptScope("z", attempt, "external")).toBeNull();
    const done = await waitForRun(victim.id, { key: acme });
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.output).not.toHaveProperty("forged");
  });

  it("another token's lease, a forged lease and a spent lease are 404 and change nothing", async () => {
    const run = await createRun({
      project: "ext",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const lease = await take(tokens[0]!.token);
    const before = await snapshot(run.id);

    await expectRefusedEverywhere(tokens[1]!.token, lease.id, 404); // a real lease, held by another token
    await expectRefusedEverywhere(tokens[0]!.token, `lse_${"a".repeat(40)}`, 404); // forged
    await expectRefusedEverywhere(tokens[0]!.token, "not-a-lease", 404);
    expect(await snapshot(run.id)).toEqual(before);

    // Its holder completes it; replaying the spent lease then finds nothing.
    const ok = await worker(tokens[0]!.token, `/leases/${lease.id}/result`, {
      json: { outcome: "succeeded", output: { by: "holder" } },
    });
    expect(ok.status).toBe(200);
    const after = await snapshot(run.id);
    expect(after.status).toBe("succeeded");
    await expectRefusedEverywhere(tokens[0]!.token, lease.id, 404);
    expect(await snapshot(run.id)).toEqual(after);
  });

  it("a token revoked mid-lease is 401 on every call, and the attempt lapses in the run as any dead worker's would", async () => {
    const run = await createRun({
      project: "ext",
      steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }],
    });
    const lease = await take(tokens[0]!.token);
    expect((await worker(tokens[0]!.token, `/leases/${lease.id}/heartbeat`, { json: {} })).status).toBe(200);
    const before = await snapshot(run.id);

    expect(
      (await api(`/v1/admin/pools/external/tokens/${tokens[0]!.id}`, { method: "DELETE", key: ADMIN_TOKEN })).status,
    ).toBe(204);
    await expectRefusedEverywhere(tokens[0]!.token, lease.id, 401);
    expect((await worker(tokens[0]!.token, "/leases", { json: { waitMs: 0 } })).status).toBe(401);
    expect(await snapshot(run.id)).toEqual(before);
  });
});
