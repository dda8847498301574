/** Debounce's pure parts: the key's resolution at creation, and the CLI's `--debounce`. */
import { describe, expect, it } from "vitest";
import { parseDebounce } from "../../cli/commands/runs.ts";
import { UsageError } from "../../cli/context.ts";
import { resolveDebounce, RunDebounceSpec } from "../../schema/debounce.ts";

describe("resolveDebounce", () => {
  it("resolves the key's template against the input, or names debounce.key", () => {
    expect(resolveDebounce({ key: "repo:{{input.repo}}", periodMs: 1_000 }, { repo: "a" })).toEqual({
      ok: true,
      key: "repo:a",
    });
    const bad = resolveDebounce({ key: "{{input.nope}}", periodMs: 1_000 }, {});
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.path).toBe("debounce.key");
  });

  it("bounds the period to 100 ms – 7 days, in whole milliseconds", () => {
    const ok = (periodMs: number) => RunDebounceSpec.safeParse({ key: "k", periodMs }).success;
    expect([100, 604_800_000].map(ok)).toEqual([true, true]);
    expect([99, 604_800_001, 150.5, -1].map(ok)).toEqual([false, false, false, false]);
  });
});

describe("factory runs create --debounce", () => {
  it("reads key and period, with a unit or in milliseconds; a key may hold commas and braces", () => {
    expect(parseDebounce(undefined)).toBeUndefined();
    expect(parseDebounce("key={{input.repo}},period=30s")).toEqual({ key: "{{input.repo}}", periodMs: 30_000 });
    expect(parseDebounce("key=a,b,period=250")).toEqual({ key: "a,b", periodMs: 250 });
    expect(parseDebounce("key=k,period=2h")).toEqual({ key: "k", periodMs: 7_200_000 });
  });

  it("refuses anything else with a usage error", () => {
    for (const bad of ["k=1", "key=k", "period=5s", "key=,period=1s", "key=k,period=5w"])
      expect(() => parseDebounce(bad)).toThrow(UsageError);
  });
});
