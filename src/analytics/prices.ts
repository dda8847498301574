/**
 * The price table: what recorded usage costs. Defaults are documented here and in the README;
 * PRICE_TABLE (JSON, any subset of the fields) overrides them per deployment. Cost is always
 * computed from recorded usage, never estimated separately.
 */
import { PriceTable } from "../../schema/api";
import type { ModelTokens, UsageTotals } from "../../schema/usage";

export { PriceTable };

export const DEFAULT_PRICES: PriceTable = {
  perAttemptUsd: 0.000002,
  perExecutionSecondUsd: 0.00002,
  perMillionCpuMsUsd: 0.05,
  perArtifactGbUsd: 0.015,
  perMillionQueueOpsUsd: 0.8,
  perMillionObjectCallsUsd: 0.3,
  perMillionR2WritesUsd: 9,
  perMillionTokensInUsd: 0.5,
  perMillionTokensOutUsd: 1.5,
  // Cloudflare's list prices (Workers Paid): SQLite-backed Durable Object storage $0.20 per GB-month
  // (https://developers.cloudflare.com/durable-objects/platform/pricing/), R2 Standard storage
  // $0.015 per GB-month (https://developers.cloudflare.com/r2/pricing/); the free allowances are not netted.
  perDoStorageGbMonthUsd: 0.2,
  perR2StorageGbMonthUsd: 0.015,
  models: {},
};

/** The deployment's prices: the defaults, with what PRICE_TABLE overrides (ignored if invalid). */
export function prices(configured: string | undefined): PriceTable {
  if (!configured) return DEFAULT_PRICES;
  try {
    const parsed = PriceTable.partial().safeParse(JSON.parse(configured));
    return parsed.success ? { ...DEFAULT_PRICES, ...parsed.data } : DEFAULT_PRICES;
  } catch {
    return DEFAULT_PRICES;
  }
}

/**
 * The cost of some usage, in USD, to a millionth of a dollar. Tokens of a model with its own
 * price use it; the rest (including tokens metered without a model) use the flat prices. Pure.
 */
export function cost(u: UsageTotals & { models?: ModelTokens }, p: PriceTable): number {
  let tokensIn = u.tokensIn;
  let tokensOut = u.tokensOut;
  let modelUsd = 0;
  for (const [model, t] of Object.entries(u.models ?? {})) {
    const price = p.models[model];
    if (!price) continue;
    modelUsd += (t.tokensIn / 1e6) * price.inUsd + (t.tokensOut / 1e6) * price.outUsd;
    tokensIn -= t.tokensIn;
    tokensOut -= t.tokensOut;
  }
  const usd =
    u.attempts * p.perAttemptUsd +
    (u.wallMs / 1000) * p.perExecutionSecondUsd +
    (u.cpuMs / 1e6) * p.perMillionCpuMsUsd +
    (u.artifactBytes / 1e9) * p.perArtifactGbUsd +
    (u.queueOps / 1e6) * p.perMillionQueueOpsUsd +
    (u.objectCalls / 1e6) * p.perMillionObjectCallsUsd +
    (u.r2Writes / 1e6) * p.perMillionR2WritesUsd +
    (Math.max(0, tokensIn) / 1e6) * p.perMillionTokensInUsd +
    (Math.max(0, tokensOut) / 1e6) * p.perMillionTokensOutUsd +
    modelUsd;
  return Math.round(usd * 1e6) / 1e6;
}

/** What holding storage for a month costs, in USD to a millionth: hot run state in objects, the rest in R2. Pure. */
export function storageCost(
  held: { runStateBytes: number; archiveBytes: number; artifactBytes: number },
  p: PriceTable,
): number {
  const usd =
    (held.runStateBytes / 1e9) * p.perDoStorageGbMonthUsd +
    ((held.archiveBytes + held.artifactBytes) / 1e9) * p.perR2StorageGbMonthUsd;
  return Math.round(usd * 1e6) / 1e6;
}
