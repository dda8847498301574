/**
 * A circuit breaker as a pure function of its state: closed → open after N consecutive failures
 * or a failure rate over a window; open for a cool-down with jitter; half-open lets a bounded
 * number of probes through; a probe's success closes it, its failure opens it again.
 */
import type { BreakerConfig, BreakerStateName, CallCounts } from "../../../schema/breakers";

export interface BreakerState {
  state: BreakerStateName;
  consecutive: number;
  windowStart: number;
  requests: number;
  failures: number;
  openUntil: number | null;
  /** Probes let through while half-open, and when they count as lost (an isolate died with one). */
  probesOut: number;
  probeLeaseUntil: number;
}

export const closedState = (now: number): BreakerState => ({
  state: "closed",
  consecutive: 0,
  windowStart: now,
  requests: 0,
  failures: 0,
  openUntil: null,
  probesOut: 0,
  probeLeaseUntil: 0,
});

/** A state change, for the transition log and the events. */
export interface Change {
  from: BreakerStateName;
  to: BreakerStateName;
  reason: string;
}

export interface Step {
  next: BreakerState;
  change: Change | null;
}

function open(s: BreakerState, c: BreakerConfig, now: number, random: number, reason: string): Step {
  const openUntil = now + Math.round(c.cooldownMs * (1 + c.jitter * random));
  return {
    next: { ...closedState(now), state: "open", consecutive: s.consecutive, openUntil },
    change: s.state === "open" ? null : { from: s.state, to: "open", reason },
  };
}

/** A call to the dependency failed. */
export function onFailure(s: BreakerState, c: BreakerConfig, now: number, random = Math.random()): Step {
  if (s.state === "half-open") return open(s, c, now, random, "a probe failed");
  // A late failure of a call made before it opened changes nothing.
  if (s.state === "open") return { next: s, change: null };
  const fresh = now - s.windowStart >= c.windowMs;
  const next: BreakerState = {
    ...s,
    consecutive: s.consecutive + 1,
    windowStart: fresh ? now : s.windowStart,
    requests: (fresh ? 0 : s.requests) + 1,
    failures: (fresh ? 0 : s.failures) + 1,
  };
  if (next.consecutive >= c.failureThreshold)
    return open(next, c, now, random, `${next.consecutive} consecutive failures`);
  if (next.requests >= c.minRequests && next.failures / next.requests >= c.failureRate)
    return open(next, c, now, random, `${next.failures} of ${next.requests} calls failed`);
  return { next, change: null };
}

/**
 * A batch of counted calls (src/data/breakers/gate.ts): every call, success or failure, counts in
 * the window, so the failure rate is a rate of calls. Counts reach a breaker that is no longer
 * closed only late (calls made before it opened), and change nothing there, as a late failure.
 */
export function onCounts(
  s: BreakerState,
  c: BreakerConfig,
  now: number,
  counts: CallCounts,
  random = Math.random(),
): Step {
  const calls = counts.successes + counts.failures;
  if (s.state !== "closed" || calls === 0) return { next: s, change: null };
  const fresh = now - s.windowStart >= c.windowMs;
  const next: BreakerState = {
    ...s,
    consecutive: counts.successes > 0 ? counts.trailingFailures : s.consecutive + counts.failures,
    windowStart: fresh ? now : s.windowStart,
    requests: (fresh ? 0 : s.requests) + calls,
    failures: (fresh ? 0 : s.failures) + counts.failures,
  };
  if (counts.failures === 0) return { next, change: null };
  if (next.consecutive >= c.failureThreshold)
    return open(next, c, now, random, `${next.consecutive} consecutive failures`);
  if (next.requests >= c.minRequests && next.failures / next.requests >= c.failureRate)
    return open(next, c, now, random, `${next.failures} of ${next.requests} calls failed`);
  return { next, change: null };
}

/** A call succeeded: a probe's success closes the breaker. */
export function onSuccess(s: BreakerState, c: BreakerConfig, now: number): Step {
  if (s.state === "half-open")
    return { next: closedState(now), change: { from: s.state, to: "closed", reason: "a probe succeeded" } };
  if (s.state === "open") return { next: s, change: null };
  const fresh = now - s.windowStart >= c.windowMs;
  if (s.consecutive === 0 && !fresh) return { next: { ...s, requests: s.requests + 1 }, change: null };
  return {
    next: {
      ...s,
      consecutive: 0,
      windowStart: fresh ? now : s.windowStart,
      requests: (fresh ? 0 : s.requests) + 1,
      failures: fresh ? 0 : s.failures,
    },
    change: null,
  };
}

export type Admission = { allow: true; probe: boolean } | { allow: false; retryAfterMs: number };

/**
 * May a call go out now? Closed: yes. Open: not before the cool-down ends, then half-open. Half-open:
 * while fewer than `probes` are out (a probe not heard of within a cool-down counts as lost).
 */
export function admit(
  s: BreakerState,
  c: BreakerConfig,
  now: number,
): { next: BreakerState; change: Change | null; admission: Admission } {
  if (s.state === "closed") return { next: s, change: null, admission: { allow: true, probe: false } };
  let next = s;
  let change: Change | null = null;
  if (s.state === "open") {
    if (now < (s.openUntil ?? 0))
      return { next: s, change: null, admission: { allow: false, retryAfterMs: (s.openUntil ?? now) - now } };
    next = { ...s, state: "half-open", probesOut: 0, probeLeaseUntil: 0 };
    change = { from: "open", to: "half-open", reason: "the cool-down ended" };
  }
  if (next.probesOut >= c.probes && now >= next.probeLeaseUntil) next = { ...next, probesOut: 0 };
  if (next.probesOut < c.probes)
    return {
      next: { ...next, probesOut: next.probesOut + 1, probeLeaseUntil: now + c.cooldownMs },
      change,
      admission: { allow: true, probe: true },
    };
  // Probes are out: wait about as long as one may take.
  return {
    next,
    change,
    admission: { allow: false, retryAfterMs: Math.max(100, Math.min(c.cooldownMs, next.probeLeaseUntil - now)) },
  };
}
