/** The bound on exports waiting for one collector (src/telemetry/backlog.ts): oldest doomed first, backoff per export. */
import { describe, expect, it } from "vitest";
import { backoffMs, ExportBacklog } from "../../src/telemetry/backlog";

describe("ExportBacklog", () => {
  it("backs a failed export off exponentially, capped", () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 5_000))).toEqual([1_000, 2_000, 4_000, 5_000]);
    const b = new ExportBacklog(60_000);
    expect(b.due("c", "r1", 0)).toBe(true);
    b.failed("c", "r1", 0, 0, 10);
    expect(b.due("c", "r1", 999)).toBe(false);
    expect(b.due("c", "r1", 1_000)).toBe(true);
    b.failed("c", "r1", 0, 1_000, 10);
    expect(b.due("c", "r1", 2_999)).toBe(false);
    b.done("c", "r1");
    expect(b.due("c", "r1", 0)).toBe(true);
  });

  it("past its bound, dooms the oldest waiting exports of that collector only", () => {
    const b = new ExportBacklog();
    for (const r of ["r1", "r2", "r3", "r4"]) b.failed("down", r, 0, 0, 2);
    b.failed("other", "x1", 0, 0, 2);
    expect(b.size("down")).toBe(2);
    expect(b.takeDoomed("r1")).toBe(true);
    expect(b.takeDoomed("r1")).toBe(false); // dropped once
    expect(b.takeDoomed("r2")).toBe(true);
    expect(b.takeDoomed("r3")).toBe(false);
    expect(b.takeDoomed("x1")).toBe(false);
    // A retry of a waiting export keeps its place: it is not newer for failing again.
    b.failed("down", "r3", 0, 10, 2);
    b.failed("down", "r5", 0, 10, 2);
    expect(b.takeDoomed("r3")).toBe(true);
  });
});
