/**
 * ISO 8601 durations (`PT2S`, `PT15M`, `P1D`, `P1W`, `P1DT12H`), as schedules, sleeps and
 * catch-up windows name them. Only units of a fixed length: years and months are refused (a month
 * is 28 to 31 days, so "P1M" would be a guess); a cron spec says "monthly" exactly.
 */
import { z } from "@hono/zod-openapi";

const GRAMMAR = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d{1,3})?)S)?)?$/;
const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000] as const;

/** The duration in milliseconds, or the reason it is not one. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; reason: string } {
  if (/^P[^T]*\d[YM]/.test(text))
    return { ok: false, reason: "years and months have no fixed length: use weeks, days or hours" };
  const m = GRAMMAR.exec(text);
  if (!m || text === "P" || text.endsWith("T"))
    return { ok: false, reason: `'${text}' is not an ISO 8601 duration such as PT30S, PT15M or P1D` };
  let ms = 0;
  for (const [i, unit] of UNIT_MS.entries()) {
    const part = m[i + 1];
    if (part !== undefined) ms += Math.round(Number(part.replace(",", ".")) * unit);
  }
  if (!Number.isSafeInteger(ms)) return { ok: false, reason: "the duration is too long" };
  return { ok: true, ms };
}

/** The `params` of a duration's zod issue. */
export const DURATION_ISSUE = { duration: true } as const;

/** Whether a zod issue is a duration's (durationString's own), not the shape around it. */
export const isDurationIssue = (issue: { code: string; params?: Record<string, unknown> }): boolean =>
  issue.code === "custom" && issue.params?.duration === true;

/** A zod string that is an ISO 8601 duration between `minMs` and `maxMs`. */
export function durationString(minMs: number, maxMs: number) {
  return z
    .string()
    .max(40)
    .superRefine((text, ctx) => {
      const parsed = parseDuration(text);
      // Marked, so a run whose only fault is a duration answers 400 duration.invalid (src/control/resolve.ts).
      if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.reason, params: DURATION_ISSUE });
      else if (parsed.ms < minMs || parsed.ms > maxMs)
        ctx.addIssue({
          code: "custom",
          message: `must be between ${minMs / 1000} s and ${maxMs / 86_400_000} days`,
          params: DURATION_ISSUE,
        });
    })
    .openapi({ description: "an ISO 8601 duration: PT30S, PT15M, PT1H, P1D, P1W", example: "PT15M" });
}

/** `parseDuration` for a string already validated by `durationString`. */
export function durationMs(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`not a duration: ${text}`);
  return parsed.ms;
}
