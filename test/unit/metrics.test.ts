import { describe, expect, it } from "vitest";
import { percentile, slaMetrics, type FinishedRun } from "../../src/control/metrics";

const run = (
  status: FinishedRun["status"],
  durationMs: number,
  opts: Partial<{ blueprint: string; errorCode: string; steps: number; attempts: number; queuedMs: number }> = {},
): FinishedRun => ({
  status,
  blueprint: opts.blueprint ?? null,
  usage: { steps: opts.steps ?? 2, attempts: opts.attempts ?? 2 },
  outcome: { durationMs, queuedMs: opts.queuedMs ?? 0, errorCode: opts.errorCode ?? null },
});

describe("SLA metrics", () => {
  it("percentiles use the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 95), percentile(values, 99), percentile(values, 100)]).toEqual([
      50, 95, 99, 100,
    ]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it("success rate excludes validation failures and cancels; retry rate counts extra attempts per step", () => {
    const m = slaMetrics(
      [
        run("succeeded", 100, { attempts: 3 }),
        run("succeeded", 200),
        run("failed", 300, { errorCode: "run.step_failed" }),
        run("failed", 5, { errorCode: "run.invalid_graph", steps: 0, attempts: 0 }),
        run("cancelled", 50),
      ],
      () => undefined,
    );
    expect(m.runs).toEqual({ finished: 5, counted: 3, succeeded: 2, failed: 1, cancelled: 1 });
    expect(m.successRate).toBeCloseTo(2 / 3);
    expect(m.durationMs).toEqual({ p50: 200, p95: 300, p99: 300 });
    expect(m.retryRate).toBeCloseTo(1 / 6);
  });

  it("judges blueprint runs against their expected time, and only those", () => {
    const expected = (b: string) => (b === "microservice" ? 1_000 : undefined);
    const m = slaMetrics(
      [
        run("succeeded", 900, { blueprint: "microservice" }),
        run("succeeded", 1_500, { blueprint: "microservice" }),
        run("succeeded", 99_999),
      ],
      expected,
    );
    expect(m.withinExpectedTime).toBe(0.5);
    expect(slaMetrics([], expected)).toMatchObject({
      successRate: null,
      withinExpectedTime: null,
      retryRate: null,
      durationMs: { p50: null },
    });
  });
});
