import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, expect, it } from "vitest";
import { LIMITS, POINTS, type PointKind } from "../../schema/analytics/points";
import { api, createRun, events, waitForRun } from "../support/api";
import { MAX_POINTS_PER_CALL } from "../../src/control/run/analytics";
import type { RunStore } from "../../src/control/run/store";

// Analytics Engine stores nothing locally, so the test listens on the binding itself: the run
// and tenant objects run in this isolate and write through this same object.
const written: AnalyticsEngineDataPoint[] = [];
let original: AnalyticsEngineDataset["writeDataPoint"];

beforeEach(() => {
  written.length = 0;
  original = env.ANALYTICS.writeDataPoint;
  env.ANALYTICS.writeDataPoint = (point?: AnalyticsEngineDataPoint) => {
    if (point) written.push(point);
    original.call(env.ANALYTICS, point);
  };
});
afterEach(async () => {
  env.ANALYTICS.writeDataPoint = original;
  await reset();
});

type Decoded = { kind: PointKind; tenant: string } & Record<string, string | number>;

/** Checks a written point against the documented schema, and names its columns. */
function decode(p: AnalyticsEngineDataPoint): Decoded {
  const kind = p.blobs?.[0] as PointKind;
  expect(Object.keys(POINTS)).toContain(kind);
  const schema = POINTS[kind];
  expect(p.indexes).toHaveLength(1);
  expect(new TextEncoder().encode(String(p.indexes![0])).byteLength).toBeLessThanOrEqual(LIMITS.indexBytes);
  expect(p.blobs).toHaveLength(schema.blobs.length);
  expect(p.doubles).toHaveLength(schema.doubles.length);
  for (const b of p.blobs!) expect(typeof b).toBe("string");
  for (const d of p.doubles!) expect(Number.isFinite(d)).toBe(true);
  const blobBytes = p.blobs!.reduce((n, b) => n + new TextEncoder().encode(String(b)).byteLength, 0);
  expect(blobBytes).toBeLessThanOrEqual(LIMITS.blobBytes);
  return {
    kind,
    tenant: String(p.indexes![0]),
    ...Object.fromEntries(schema.blobs.map((b, i) => [b.name, p.blobs![i] as string])),
    ...Object.fromEntries(schema.doubles.map((d, i) => [d.name, p.doubles![i]!])),
  } as Decoded;
}

it("writes step, run and usage points that match the documented schema and the recorded usage", async () => {
  const service = await createRun({ project: "billing", blueprint: "microservice", input: { name: "billing-api" } });
  const flaky = await createRun({ project: "ops", steps: [{ id: "f", type: "system.fail", input: { times: 1 } }] });
  await waitForRun(service.id);
  await waitForRun(flaky.id);
  const points = written.map(decode);
  const tenantId = (await events(service.id))[0]!.tenantId;
  expect(new Set(points.map((p) => p.tenant))).toEqual(new Set([tenantId]));

  // One step point per ended attempt: the flaky step failed once (retrying), then succeeded.
  const flakySteps = points.filter((p) => p.kind === "step" && p.runId === flaky.id);
  expect(flakySteps.map((p) => [p.stepId, p.attempt, p.outcome, p.errorCode, p.pool])).toEqual([
    ["f", 1, "retrying", "system.fail", "system"],
    ["f", 2, "succeeded", "", "system"],
  ]);
  for (const p of flakySteps) {
    expect(p.queueOps).toBe(3);
    expect(p.cpuMs).toBeGreaterThan(0);
    expect(p.queueWaitMs).toBeGreaterThanOrEqual(0);
  }

  // The run points agree with what GET /v1/usage reports from the recorded state.
  const byProject = (
    (await (await api("/v1/usage?groupBy=project")).json()) as {
      items: { key: string; attempts: number; artifactBytes: number; costUsd: number }[];
    }
  ).items;
  for (const [run, project] of [
    [service, "billing"],
    [flaky, "ops"],
  ] as const) {
    const [runPoint] = points.filter((p) => p.kind === "run" && p.runId === run.id);
    const row = byProject.find((r) => r.key === project)!;
    expect(runPoint).toMatchObject({
      status: "succeeded",
      project,
      attempts: row.attempts,
      artifactBytes: row.artifactBytes,
    });
    expect(runPoint!.costUsd).toBeCloseTo(row.costUsd, 6);
    const stepPoints = points.filter((p) => p.kind === "step" && p.runId === run.id);
    expect(stepPoints).toHaveLength(row.attempts);
    // The usage points split the run's cost by pool.
    const usage = points.filter((p) => p.kind === "usage" && p.runId === run.id);
    expect(usage.reduce((n, p) => n + (p.attempts as number), 0)).toBe(row.attempts);
    expect(usage.reduce((n, p) => n + (p.costUsd as number), 0)).toBeCloseTo(row.costUsd, 5);
  }
  const serviceRun = points.find((p) => p.kind === "run" && p.runId === service.id)!;
  expect(serviceRun).toMatchObject({ blueprint: "microservice", withinExpected: 1 });
  expect(points.find((p) => p.kind === "run" && p.runId === flaky.id)).toMatchObject({
    blueprint: "",
    withinExpected: -1,
  });
  expect(new Set(points.filter((p) => p.kind === "usage" && p.runId === service.id).map((p) => p.pool))).toEqual(
    new Set(["repo", "pipeline"]),
  );
});

it("writes a webhook point for each delivery attempt", async () => {
  const hook = await api("/v1/webhooks", {
    method: "POST",
    json: { url: "https://hooks.example.com/factory", eventTypes: ["run.succeeded"] },
  });
  expect(hook.status).toBe(201);
  const endpointId = ((await hook.json()) as { id: string }).id;
  const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] });
  await waitForRun(run.id);
  for (let i = 0; i < 100 && !written.some((p) => p.blobs?.[0] === "webhook"); i++)
    await new Promise((r) => setTimeout(r, 50));
  const [point] = written.filter((p) => p.blobs?.[0] === "webhook").map(decode);
  expect(point).toMatchObject({
    endpointId,
    eventType: "run.succeeded",
    outcome: "retrying",
    statusClass: "network",
    attempt: 1,
    httpStatus: 0,
  });
});

it("writes a mass ending's points over several invocations, never more than Analytics Engine takes in one", async () => {
  // 250 attempts ending in one transaction: what an alarm does when a crashed worker pool's leases lapse together.
  const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] });
  await waitForRun(run.id);
  const stub = env.RUN.getByName(run.id);
  const before = written.length;
  await runInDurableObject(stub, async (instance) => {
    const object = instance as unknown as {
      mutate(decide: () => void): void;
      store: RunStore;
      outbox: { settle(): Promise<void> };
    };
    // As every RPC does: one decision, then the outbox is settled and the alarm set.
    object.mutate(() => {
      for (let i = 0; i < 250; i++) object.store.appendEvent("step.failed", Date.now(), "a", { attempt: 1 });
    });
    await object.outbox.settle();
  });
  const perCall = [written.length - before];
  // The rest follow at the object's alarm, a call (an invocation) of its own each time.
  // (Run early, an alarm whose timer is not yet due writes what is behind and sets the timer again;
  // the finished run's archive timer keeps an alarm set, so the loop stops at the points, bounded.)
  for (let i = 0; i < 50 && written.length - before < 250; i++) {
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const wrote = written.length - before - perCall.reduce((a, b) => a + b, 0);
    if (wrote > 0) perCall.push(wrote);
  }
  expect(perCall).toEqual([MAX_POINTS_PER_CALL, MAX_POINTS_PER_CALL, 250 - 2 * MAX_POINTS_PER_CALL]);
  const steps = written.slice(before).map(decode);
  expect(steps.every((p) => p.kind === "step" && p.runId === run.id && p.outcome === "failed")).toBe(true);
});
