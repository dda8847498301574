/**
 * When a schedule fires: pure functions of its spec, its anchor (when it was created or its spec
 * last changed) and a time. Cron expressions and time zones (and so daylight saving) are croner's:
 * a 02:30 Europe/Berlin schedule fires at 03:00 on the spring-forward day (02:30 does not exist)
 * and once on the fall-back day (02:30 happens twice).
 */
import { Cron } from "croner";
import type { ScheduleSpec } from "../../../schema/automation";
import { parseDuration } from "../../../schema/duration";

/** Fire times are whole milliseconds since the epoch. */
function cron(spec: { cron: string; timezone: string }): Cron {
  // paused: croner would otherwise start its own timer; the object's alarm does the firing.
  return new Cron(spec.cron, { timezone: spec.timezone, paused: true });
}

/** Why `spec` cannot be scheduled (croner's own reason for a bad cron or time zone), or null. */
export function specProblem(spec: ScheduleSpec, now: number, minEveryMs: number): string | null {
  if ("every" in spec) {
    const every = parseDuration(spec.every);
    if (!every.ok) return `every: ${every.reason}`;
    if (every.ms < minEveryMs) return `every: at least ${minEveryMs / 1000} s here`;
    return null;
  }
  if ("at" in spec) return Date.parse(spec.at) <= now ? "at: the time is in the past" : null;
  try {
    const [first, second] = cron(spec).nextRuns(2, new Date(now));
    if (!first) return "cron: the expression never fires";
    if (second && second.getTime() - first.getTime() < minEveryMs)
      return `cron: fires more often than every ${minEveryMs / 1000} s`;
    return null;
  } catch (err) {
    return `cron: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The first fire time strictly after `after`, or null when there is none (a one-shot that fired). */
export function nextFire(spec: ScheduleSpec, anchor: number, after: number): number | null {
  if ("at" in spec) {
    const at = Date.parse(spec.at);
    return at > after ? at : null;
  }
  if ("every" in spec) {
    const every = parseDuration(spec.every);
    if (!every.ok || every.ms <= 0) return null;
    // Fires at anchor + k·every, k ≥ 1: a new schedule's first run is one period after it was made.
    const k = Math.max(1, Math.floor((after - anchor) / every.ms) + 1);
    return anchor + k * every.ms;
  }
  return cron(spec).nextRun(new Date(after))?.getTime() ?? null;
}

/** The next `n` fire times after `after`. */
export function nextFires(spec: ScheduleSpec, anchor: number, after: number, n: number): number[] {
  const out: number[] = [];
  for (let t = nextFire(spec, anchor, after); t !== null && out.length < n; t = nextFire(spec, anchor, t)) out.push(t);
  return out;
}
