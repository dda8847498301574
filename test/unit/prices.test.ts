import { describe, expect, it } from "vitest";
import { DEFAULT_PRICES, cost, prices } from "../../src/analytics/prices";

describe("the price table", () => {
  const usage = { attempts: 10, wallMs: 5_000, artifactBytes: 2e9, tokensIn: 1e6, tokensOut: 2e6 };

  it("prices each kind of recorded usage", () => {
    expect(cost(usage, DEFAULT_PRICES)).toBeCloseTo(10 * 0.000002 + 5 * 0.00002 + 2 * 0.015 + 0.5 + 3, 6);
    expect(cost({ attempts: 0, wallMs: 0, artifactBytes: 0, tokensIn: 0, tokensOut: 0 }, DEFAULT_PRICES)).toBe(0);
  });

  it("takes overrides from PRICE_TABLE and ignores an invalid one", () => {
    expect(prices('{"perMillionTokensOutUsd": 10}')).toEqual({ ...DEFAULT_PRICES, perMillionTokensOutUsd: 10 });
    expect(prices('{"perMillionTokensOutUsd": -1}')).toBe(DEFAULT_PRICES);
    expect(prices("not json")).toBe(DEFAULT_PRICES);
    expect(prices(undefined)).toBe(DEFAULT_PRICES);
  });
});
