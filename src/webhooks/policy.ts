/** Pure rules of webhook delivery: which endpoints get an event, when to retry, when to give up. */
import type { DisablePolicy } from "../../schema/webhooks";

/** About a day of retries, as Standard Webhooks senders commonly do: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

/** A comma-separated list of milliseconds (WEBHOOK_SCHEDULE_MS), or the default schedule. */
export function parseSchedule(text: string | undefined): number[] {
  const values = (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
  return values.length > 0 ? values : DEFAULT_SCHEDULE_MS;
}

/**
 * The wait before the next attempt after `failures` failed ones, or null when the schedule is
 * spent. ±20 % jitter spreads retries of many deliveries; a Retry-After is honoured as a floor.
 */
export function retryDelay(
  failures: number,
  schedule: readonly number[],
  retryAfterMs?: number,
  random: () => number = Math.random,
): number | null {
  const base = schedule[failures - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** `*`, a family (`run.*`) or an exact type (`step.failed`). */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === "*" || p === type || (p.endsWith(".*") && type.startsWith(p.slice(0, -1))));
}

export function shouldDisable(
  streak: number,
  streakStartedAt: number | null,
  now: number,
  policy: DisablePolicy,
): boolean {
  return streak >= policy.failures && streakStartedAt !== null && now - streakStartedAt >= policy.afterMs;
}
