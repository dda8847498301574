/**
 * The price table: what recorded usage costs. Defaults are documented here and in the README;
 * PRICE_TABLE (JSON, any subset of the fields) overrides them per deployment. Cost is always
 * computed from recorded usage, never estimated separately.
 */
import { z } from "zod";
import type { RunUsage } from "../control/run/store";

export const PriceTable = z
  .object({
    /** Each dispatched attempt: a queue message, consumer invocation and object calls. */
    perAttemptUsd: z.number().min(0),
    /** Each second of step execution. */
    perExecutionSecondUsd: z.number().min(0),
    /** Each GB of artifacts written to R2. */
    perArtifactGbUsd: z.number().min(0),
    perMillionTokensInUsd: z.number().min(0),
    perMillionTokensOutUsd: z.number().min(0),
  })
  .strict();
export type PriceTable = z.infer<typeof PriceTable>;

export const DEFAULT_PRICES: PriceTable = {
  perAttemptUsd: 0.000002,
  perExecutionSecondUsd: 0.00002,
  perArtifactGbUsd: 0.015,
  perMillionTokensInUsd: 0.5,
  perMillionTokensOutUsd: 1.5,
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

/** The cost of some usage, in USD, to a millionth of a dollar. Pure. */
export function cost(u: Pick<RunUsage, "attempts" | "wallMs" | "artifactBytes" | "tokensIn" | "tokensOut">, p: PriceTable): number {
  const usd =
    u.attempts * p.perAttemptUsd +
    (u.wallMs / 1000) * p.perExecutionSecondUsd +
    (u.artifactBytes / 1e9) * p.perArtifactGbUsd +
    (u.tokensIn / 1e6) * p.perMillionTokensInUsd +
    (u.tokensOut / 1e6) * p.perMillionTokensOutUsd;
  return Math.round(usd * 1e6) / 1e6;
}
