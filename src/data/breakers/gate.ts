/**
 * Calls to an external dependency through its circuit breaker, as a consumer isolate sees it.
 *
 * The breaker's state lives in its own Durable Object (src/control/breakers/object.ts), one per
 * dependency, and this isolate keeps what it last heard of it. A closed breaker costs nothing:
 * calls go out and only a failure asks the object (which answers whether that failure, or
 * another isolate's, opened it). While the cached state says open, steps are held without a
 * call anywhere; after the cool-down the object lets a bounded number of probes through.
 *
 * Every call counts (issue 33): while the breaker is closed the isolate counts its calls'
 * successes and failures and reports them in one batch at most once a second per breaker
 * (`record`), or at once when failures in a row reach the threshold, so the object's window holds
 * a rate of calls, not of failures and first recoveries. A healthy dependency costs at most one
 * object call a second per isolate.
 *
 * Until it has seen a success, an isolate keeps its calls out plus the failures counted under
 * the threshold (the others wait for their answers): a burst that meets an outage then costs
 * the threshold in calls per isolate, not the whole burst.
 */
import type { BreakerAnswer } from "../../../schema/breakers";
import { DEFAULT_BREAKER_CONFIG } from "../../../schema/breakers";
import type { Env } from "../../env";
import { CircuitOpenError } from "../../errors";

interface Known {
  answer: BreakerAnswer;
  /** When the object last answered (0: never, in this isolate). */
  heardAt: number;
  /** A success was seen here lately: calls go out without the slow-start limit. */
  healthyUntil: number;
  inFlight: number;
  /** Calls counted here and not yet reported, and the failures after the last of their successes. */
  successes: number;
  failures: number;
  trailing: number;
  /** When counts were last reported (0: never). */
  reportedAt: number;
  /** A report on its way: a failure waits for its answer before it judges what it knows. */
  reporting: Promise<unknown> | null;
}

/**
 * Per isolate, on purpose: this is a cache of another object's state (and a count of this
 * isolate's own calls), never a binding. Lost with the isolate, which only costs a first failure.
 */
const known = new Map<string, Known>();

/** How long a closed state heard from the object is trusted before it is asked again. */
const CLOSED_TTL_MS = 5_000;
/** How long a success keeps an isolate out of slow start. */
const HEALTHY_MS = 10_000;
/** How often a call waiting for a slow-start slot looks again. */
const WAIT_POLL_MS = 10;
/** At most one report of counted calls per breaker and isolate in this time. */
const REPORT_MS = 1_000;

/** Failures in a row as far as this isolate knows: the object's count, plus its own since. */
const inARow = (k: Known) => (k.successes > 0 ? k.trailing : k.answer.consecutiveFailures + k.trailing);

type Breaker = ReturnType<Env["BREAKER"]["getByName"]>;

/** Sends the counted calls; on an unreachable object they are counted again, for the next report. */
async function report(k: Known, breaker: Breaker, tenantId: string | undefined): Promise<BreakerAnswer> {
  const counts = { successes: k.successes, failures: k.failures, trailingFailures: k.trailing };
  k.successes = 0;
  k.failures = 0;
  k.trailing = 0;
  k.reportedAt = Date.now();
  const sent = breaker.record(counts, tenantId);
  k.reporting = sent;
  try {
    k.answer = await sent;
    k.heardAt = Date.now();
    return k.answer;
  } catch (err) {
    k.successes += counts.successes;
    k.failures += counts.failures;
    k.trailing = k.successes > counts.successes ? k.trailing : k.trailing + counts.trailingFailures;
    throw err;
  } finally {
    if (k.reporting === sent) k.reporting = null;
  }
}

function entry(dependency: string): Known {
  let k = known.get(dependency);
  if (!k) {
    k = {
      answer: {
        state: "closed",
        openUntil: null,
        consecutiveFailures: 0,
        failureThreshold: DEFAULT_BREAKER_CONFIG.failureThreshold,
      },
      heardAt: 0,
      healthyUntil: 0,
      inFlight: 0,
      successes: 0,
      failures: 0,
      trailing: 0,
      reportedAt: 0,
      reporting: null,
    };
    known.set(dependency, k);
  }
  return k;
}

export interface GateOptions {
  env: Env;
  dependency: string;
  tenantId: string;
  signal: AbortSignal;
  /** Whether an error is the dependency failing (5xx, unreachable, timeout), not the request. */
  isFailure(err: unknown): boolean;
}

/** Runs `call` through the dependency's breaker; throws CircuitOpenError to hold the step instead. */
export async function throughBreaker<T>(o: GateOptions, call: () => Promise<T>): Promise<T> {
  const k = entry(o.dependency);
  const breaker = o.env.BREAKER.getByName(o.dependency);
  const hear = (answer: BreakerAnswer) => {
    k.answer = answer;
    k.heardAt = Date.now();
    return answer;
  };
  let probe = false;
  for (;;) {
    const now = Date.now();
    // Never heard of here, or a closed state heard too long ago: ask (its configuration comes along).
    if (k.answer.state === "closed" && now - k.heardAt > CLOSED_TTL_MS) {
      const answer = hear(await breaker.admit());
      if (answer.allow === false) throw new CircuitOpenError(o.dependency, answer.retryAfterMs ?? 1_000);
      if (answer.state !== "closed") {
        probe = true;
        break;
      }
    }
    // Open and cooling down: hold without asking anyone.
    if (k.answer.state === "open" && now < (k.answer.openUntil ?? 0))
      throw new CircuitOpenError(o.dependency, (k.answer.openUntil ?? now) - now);
    if (k.answer.state !== "closed") {
      const answer = hear(await breaker.admit(o.tenantId));
      if (!answer.allow) throw new CircuitOpenError(o.dependency, answer.retryAfterMs ?? 1_000);
      probe = true;
      break;
    }
    // Slow start: calls out plus failures already counted stay under the threshold, so that the
    // calls an outage costs are the threshold's, not the burst's.
    if (now < k.healthyUntil || k.inFlight + inARow(k) < k.answer.failureThreshold) break;
    if (o.signal.aborted) throw o.signal.reason;
    // Failures counted here (their report raced another) may be what keeps this call waiting:
    // the object decides on them now, or nothing would ever report them.
    if (k.failures > 0 && (inARow(k) >= k.answer.failureThreshold || now - k.reportedAt >= REPORT_MS)) {
      await report(k, breaker, o.tenantId);
      continue;
    }
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
  k.inFlight++;
  try {
    const result = await call();
    k.healthyUntil = Date.now() + HEALTHY_MS;
    if (probe || k.answer.state !== "closed") hear(await breaker.success());
    else {
      k.successes++;
      k.trailing = 0;
      // A failed report must not fail a call that succeeded: its counts wait for the next one.
      if (Date.now() - k.reportedAt >= REPORT_MS) await report(k, breaker, o.tenantId).catch(() => undefined);
    }
    return result;
  } catch (err) {
    if (!o.isFailure(err)) {
      // The dependency answered: it is up, whatever it said.
      if (probe) hear(await breaker.success());
      throw err;
    }
    k.healthyUntil = 0;
    if (probe || k.answer.state !== "closed") hear(await breaker.failure(o.tenantId));
    else {
      k.failures++;
      k.trailing++;
      if (k.reporting) await k.reporting.catch(() => undefined);
      if (inARow(k) >= k.answer.failureThreshold || Date.now() - k.reportedAt >= REPORT_MS)
        await report(k, breaker, o.tenantId);
    }
    // This failure opened the breaker (or met it open): the step is held, not charged.
    if (probe || k.answer.state !== "closed")
      throw new CircuitOpenError(o.dependency, Math.max(0, (k.answer.openUntil ?? Date.now()) - Date.now()));
    throw err;
  } finally {
    k.inFlight--;
  }
}

/** Reports this isolate's counted calls now, and answers the breaker's state (tests). */
export function flushBreakerCounts(env: Env, dependency: string): Promise<BreakerAnswer> {
  return report(entry(dependency), env.BREAKER.getByName(dependency), undefined);
}

/** Forgets what this isolate knows (tests). */
export function forgetBreakers(): void {
  known.clear();
}
