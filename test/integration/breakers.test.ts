import { reset } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BreakerView } from "../../schema/breakers";
import { forgetBreakers } from "../../src/data/breakers/gate";
import { upstreamCalls } from "../../src/data/jobs/system";
import { ADMIN_TOKEN, api, createRun, events, waitForRun } from "../support/api";

beforeEach(() => {
  forgetBreakers();
  upstreamCalls.failed = 0;
  upstreamCalls.succeeded = 0;
});
afterEach(() => reset());

const DEPENDENCY = "diagnostic-upstream";
const CONFIG = {
  failureThreshold: 3,
  failureRate: 1,
  windowMs: 60_000,
  minRequests: 1_000,
  cooldownMs: 300,
  jitter: 0,
  probes: 1,
};
const configure = (body: unknown, name = DEPENDENCY) =>
  api(`/v1/admin/breakers/${encodeURIComponent(name)}`, { method: "PUT", key: ADMIN_TOKEN, json: body });
const breaker = async () =>
  (await (await api(`/v1/admin/breakers/${DEPENDENCY}`, { key: ADMIN_TOKEN })).json()) as BreakerView;

describe("circuit breakers", () => {
  it("an outage opens the breaker after its threshold, holds the steps uncharged, and every step succeeds after recovery", async () => {
    expect((await configure(CONFIG)).status).toBe(200);
    const hook = (await (
      await api("/v1/webhooks", {
        method: "POST",
        json: { url: "https://hooks.example.com/deps", eventTypes: ["dependency.*"] },
      })
    ).json()) as { id: string };
    // Long enough that the first steps run inside it even on a loaded machine: at 1.5 s, one run of
    // the suite under load dispatched its first step after the outage had ended (0 failed calls).
    const outageMs = 5_000;
    const failUntil = Date.now() + outageMs;
    const run = await createRun({
      project: "deps",
      steps: Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, type: "system.upstream", input: { failUntil } })),
    });
    const done = await waitForRun(run.id, { timeoutMs: 45_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps.every((s) => s.status === "succeeded")).toBe(true);

    const view = await breaker();
    expect(view.state).toBe("closed");
    const probeFailures = view.transitions.filter((t) => t.reason === "a probe failed").length;
    // The calls the outage cost: the threshold, the calls already running when the breaker tripped
    // (every call counts, in batches: a call in flight then fails too; on a loaded machine up to a
    // dozen of the 30 were), then one probe per cool-down. The held steps (below) never called.
    expect(upstreamCalls.failed).toBeGreaterThanOrEqual(CONFIG.failureThreshold);
    expect(upstreamCalls.failed).toBeLessThan(30 + probeFailures);
    expect(probeFailures).toBeLessThanOrEqual(Math.ceil(outageMs / CONFIG.cooldownMs) + 1);
    expect(upstreamCalls.succeeded).toBe(30);
    expect(view.transitions.map((t) => t.to)).toContain("open");
    expect(view.transitions[0]).toMatchObject({ from: "half-open", to: "closed", reason: "a probe succeeded" });

    const log = await events(run.id);
    const held = log.filter((e) => e.type === "step.held");
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]!.data).toMatchObject({ reason: "circuit.open", dependency: DEPENDENCY });
    // Charged failures are only the ones before the breaker opened (threshold − 1).
    expect(log.filter((e) => e.type === "step.retrying").length).toBeLessThanOrEqual(CONFIG.failureThreshold - 1);
    expect(log.some((e) => e.type === "step.failed")).toBe(false);

    // The breaker is in the metrics, and its tenant heard it open and close.
    const metrics = (await (await api("/v1/metrics")).json()) as { breakers: BreakerView[] };
    expect(metrics.breakers.map((b) => b.name)).toContain(DEPENDENCY);
    for (const deadline = Date.now() + 5_000; ; ) {
      const deliveries = (await (await api(`/v1/webhooks/${hook.id}/deliveries?limit=100`)).json()) as {
        items: { eventType: string }[];
      };
      const types = new Set(deliveries.items.map((d) => d.eventType));
      if (types.has("dependency.circuit_opened") && types.has("dependency.circuit_closed")) break;
      if (Date.now() > deadline) throw new Error(`deliveries: ${JSON.stringify([...types])}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }, 60_000);

  it("a held step still meets its run's deadline", async () => {
    await configure({ ...CONFIG, failureThreshold: 1, cooldownMs: 200 });
    const run = await createRun({
      project: "deps",
      deadlineMs: 1_000,
      steps: [{ id: "s", type: "system.upstream", input: { failUntil: Date.now() + 60_000 } }],
    });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("run.deadline_exceeded");
    const log = await events(run.id);
    expect(log.some((e) => e.type === "step.held")).toBe(true);
    expect(log.some((e) => e.type === "step.failed")).toBe(false);
  }, 20_000);

  it("bad configurations are refused with problem+json and change nothing", async () => {
    await configure(CONFIG);
    for (const bad of [
      { ...CONFIG, failureThreshold: 0 },
      { ...CONFIG, failureRate: 0 },
      { ...CONFIG, probes: 0 },
      { ...CONFIG, cooldownMs: -5 },
      { ...CONFIG, extra: 1 },
      { failureThreshold: 3 },
    ]) {
      const res = await configure(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("request.invalid");
    }
    expect((await breaker()).config).toEqual(CONFIG);
    expect((await configure(CONFIG, "~registry")).status).toBe(400);
  });
});
