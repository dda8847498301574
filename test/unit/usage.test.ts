import { describe, expect, it } from "vitest";
import { emptyTotals, recordAttempt, rollUp, type RecordedRun } from "../../src/analytics/usage";
import { BASE_CPU_MS, CPU_MS_PER_KIB, estimateCpuMs } from "../../src/data/meter";
import type { RunUsage } from "../../schema/usage";

const usage = (pools: Record<string, Partial<RunUsage>>): RunUsage => {
  const total: RunUsage = { ...emptyTotals(), models: {}, pools: {} };
  for (const [name, p] of Object.entries(pools)) {
    const full = { ...emptyTotals(), models: {}, ...p };
    total.pools[name] = full;
    for (const k of ["steps", "attempts", "wallMs", "cpuMs", "tokensIn", "tokensOut", "queueOps"] as const)
      total[k] += full[k];
    for (const [m, t] of Object.entries(full.models)) total.models[m] = t;
  }
  return total;
};

const runs: RecordedRun[] = [
  {
    project: "a",
    blueprint: "microservice",
    status: "succeeded",
    createdAt: Date.UTC(2026, 10, 1, 10),
    usage: usage({
      repo: { steps: 3, attempts: 4, wallMs: 30, cpuMs: 3, queueOps: 12 },
      agent: { steps: 1, attempts: 1, tokensIn: 100, tokensOut: 50, models: { m1: { tokensIn: 100, tokensOut: 50 } } },
    }),
  },
  {
    project: "a",
    blueprint: null,
    status: "failed",
    createdAt: Date.UTC(2026, 10, 1, 23),
    usage: usage({ system: { steps: 2, attempts: 6, wallMs: 5 } }),
  },
  {
    project: "b",
    blueprint: "microservice",
    status: "succeeded",
    createdAt: Date.UTC(2026, 10, 2, 1),
    usage: usage({ repo: { steps: 1, attempts: 1, wallMs: 10 } }),
  },
];

describe("usage roll-ups", () => {
  it("groups by project, blueprint and day, adding recorded totals", () => {
    const byProject = rollUp(runs, "project");
    expect(byProject.map((r) => [r.key, r.runs, r.succeeded, r.failed, r.steps, r.attempts, r.wallMs])).toEqual([
      ["a", 2, 1, 1, 6, 11, 35],
      ["b", 1, 1, 0, 1, 1, 10],
    ]);
    expect(byProject[0]!.models).toEqual({ m1: { tokensIn: 100, tokensOut: 50 } });
    expect(rollUp(runs, "blueprint").map((r) => [r.key, r.runs])).toEqual([
      ["(steps)", 1],
      ["microservice", 2],
    ]);
    expect(rollUp(runs, "day").map((r) => [r.key, r.runs])).toEqual([
      ["2026-11-01", 2],
      ["2026-11-02", 1],
    ]);
  });

  it("by pool, counts a run in each pool it used with only that pool's share", () => {
    const byPool = rollUp(runs, "pool");
    expect(byPool.map((r) => [r.key, r.runs, r.steps, r.attempts, r.tokensIn])).toEqual([
      ["agent", 1, 1, 1, 100],
      ["repo", 2, 4, 5, 0],
      ["system", 1, 2, 6, 0],
    ]);
    expect(byPool.find((r) => r.key === "agent")!.models).toEqual({ m1: { tokensIn: 100, tokensOut: 50 } });
    // Every grouping adds up to the same totals.
    const sum = (rows: ReturnType<typeof rollUp>) => rows.reduce((n, r) => n + r.attempts + r.wallMs + r.tokensIn, 0);
    expect(sum(byPool)).toBe(sum(rollUp(runs, "project")));
  });

  it("keeps runs recorded before pools were metered, under '(unmetered)'", () => {
    const old: RecordedRun = {
      project: "a",
      blueprint: null,
      status: "succeeded",
      createdAt: 0,
      usage: { steps: 2, attempts: 2, wallMs: 7, tokensIn: 0, tokensOut: 0 },
    };
    const [row] = rollUp([old], "pool");
    expect(row).toMatchObject({ key: "(unmetered)", runs: 1, steps: 2, wallMs: 7, cpuMs: 0, queueOps: 0 });
  });
});

describe("attempt metering", () => {
  it("adds the platform's operations to what the worker reported", () => {
    expect(
      recordAttempt({ tokensIn: 5, tokensOut: 2, cpuMs: 1.5, heartbeats: 3 }, { viaQueue: true, artifacts: 2 }),
    ).toEqual({
      cpuMs: 1.5,
      tokensIn: 5,
      tokensOut: 2,
      models: {},
      queueOps: 3,
      objectCalls: 5,
      r2Writes: 2,
    });
    expect(recordAttempt(undefined, { viaQueue: false, artifacts: 0 })).toMatchObject({
      queueOps: 0,
      objectCalls: 2,
      cpuMs: 0,
    });
  });

  it("estimates CPU per attempt and per byte produced, never from elapsed (waiting) time", () => {
    expect(estimateCpuMs(0)).toBe(BASE_CPU_MS);
    expect(estimateCpuMs(1024 * 100)).toBeCloseTo(BASE_CPU_MS + 100 * CPU_MS_PER_KIB, 6);
    expect(estimateCpuMs(-5)).toBe(BASE_CPU_MS);
  });
});
