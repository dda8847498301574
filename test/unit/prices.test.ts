import { describe, expect, it } from "vitest";
import { DEFAULT_PRICES, cost, prices } from "../../src/analytics/prices";
import { emptyTotals } from "../../src/analytics/usage";

describe("the price table", () => {
  const usage = {
    ...emptyTotals(),
    attempts: 10,
    wallMs: 5_000,
    cpuMs: 2e6,
    artifactBytes: 2e9,
    tokensIn: 1e6,
    tokensOut: 2e6,
    queueOps: 3e6,
    objectCalls: 1e6,
    r2Writes: 1e6,
  };

  it("prices each kind of recorded usage", () => {
    expect(cost(usage, DEFAULT_PRICES)).toBeCloseTo(
      10 * 0.000002 + 5 * 0.00002 + 2 * 0.05 + 2 * 0.015 + 3 * 0.8 + 0.3 + 9 + 0.5 + 2 * 1.5,
      6,
    );
    expect(cost(emptyTotals(), DEFAULT_PRICES)).toBe(0);
  });

  it("prices a model's tokens at its own price and the rest at the flat one", () => {
    const table = { ...DEFAULT_PRICES, models: { big: { inUsd: 10, outUsd: 30 } } };
    const u = {
      ...emptyTotals(),
      tokensIn: 3e6,
      tokensOut: 2e6,
      models: { big: { tokensIn: 1e6, tokensOut: 1e6 }, small: { tokensIn: 2e6, tokensOut: 1e6 } },
    };
    // big: 10 + 30; the rest (2M in, 1M out) flat: 2 * 0.5 + 1 * 1.5
    expect(cost(u, table)).toBeCloseTo(40 + 1 + 1.5, 6);
  });

  it("takes overrides from PRICE_TABLE and ignores an invalid one", () => {
    expect(prices('{"perMillionTokensOutUsd": 10}')).toEqual({ ...DEFAULT_PRICES, perMillionTokensOutUsd: 10 });
    expect(prices('{"models": {"m": {"inUsd": 1, "outUsd": 2}}}').models).toEqual({ m: { inUsd: 1, outUsd: 2 } });
    expect(prices('{"perMillionTokensOutUsd": -1}')).toBe(DEFAULT_PRICES);
    expect(prices("not json")).toBe(DEFAULT_PRICES);
    expect(prices(undefined)).toBe(DEFAULT_PRICES);
  });
});
