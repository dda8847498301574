/**
 * The Retry-After header, read the same way by everything that calls out: webhook deliveries
 * (src/webhooks/) and model providers (src/data/agents/). Here, below both, so neither imports
 * the other.
 */

/** The Retry-After header as milliseconds (seconds or an HTTP date), capped at a day. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 86_400_000) : undefined;
}
