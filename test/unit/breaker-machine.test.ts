import { describe, expect, it } from "vitest";
import { DEFAULT_BREAKER_CONFIG, type BreakerConfig } from "../../schema/breakers";
import {
  admit,
  closedState,
  onCounts,
  onFailure,
  onSuccess,
  type BreakerState,
} from "../../src/control/breakers/machine";

const C: BreakerConfig = {
  ...DEFAULT_BREAKER_CONFIG,
  failureThreshold: 3,
  minRequests: 4,
  failureRate: 0.5,
  cooldownMs: 1_000,
  jitter: 0.5,
  probes: 2,
};

const fail = (s: BreakerState, now: number, random = 0) => onFailure(s, C, now, random).next;

describe("the circuit breaker machine", () => {
  it("counts batches of calls: the rate is failures over every call, successes included", () => {
    const R = { ...C, failureThreshold: 50, failureRate: 0.3, minRequests: 10 };
    let s = closedState(0);
    // 1,000 calls at 10% failures, in batches of 100: stays closed.
    for (let b = 0; b < 10; b++) {
      const step = onCounts(s, R, b, { successes: 90, failures: 10, trailingFailures: 1 });
      expect(step.change).toBeNull();
      s = step.next;
    }
    expect(s).toMatchObject({ state: "closed", requests: 1_000, failures: 100, consecutive: 1 });
    // At 60% the first batch opens it; a batch reaching a breaker no longer closed changes nothing.
    const opened = onCounts(closedState(0), R, 1, { successes: 40, failures: 60, trailingFailures: 2 }, 0);
    expect(opened.change).toMatchObject({ to: "open", reason: "60 of 100 calls failed" });
    expect(onCounts(opened.next, R, 2, { successes: 0, failures: 5, trailingFailures: 5 }).next).toBe(opened.next);
    // Failures in a row across batches add up to the threshold.
    const row = onCounts(closedState(0), C, 1, { successes: 0, failures: 2, trailingFailures: 2 }).next;
    expect(onCounts(row, C, 2, { successes: 0, failures: 1, trailingFailures: 1 }, 0).change?.reason).toBe(
      "3 consecutive failures",
    );
  });

  it("opens after the threshold of consecutive failures, for the cool-down lengthened by jitter", () => {
    let s = closedState(0);
    s = fail(s, 1);
    s = fail(s, 2);
    expect(s.state).toBe("closed");
    const step = onFailure(s, C, 3, 1);
    expect(step.change).toMatchObject({ from: "closed", to: "open", reason: "3 consecutive failures" });
    expect(step.next.openUntil).toBe(3 + 1_500);
  });

  it("opens on the failure rate over the window once it holds minRequests; a success resets the streak", () => {
    let s = closedState(0);
    s = fail(s, 1);
    s = onSuccess(s, C, 2).next;
    s = fail(s, 3);
    expect(s.state).toBe("closed");
    expect(onFailure(s, C, 4, 0).change?.reason).toBe("3 of 4 calls failed");
    // A new window forgets old calls.
    expect(onFailure(s, C, 4 + C.windowMs, 0).next.state).toBe("closed");
  });

  it("holds while open, then lets `probes` through half-open; a probe's success closes, its failure reopens", () => {
    const open = onFailure(fail(fail(closedState(0), 1), 2), C, 3, 0).next;
    expect(admit(open, C, 500).admission).toEqual({ allow: false, retryAfterMs: 503 });
    const first = admit(open, C, 1_003);
    expect(first.change).toMatchObject({ from: "open", to: "half-open" });
    expect(first.admission).toEqual({ allow: true, probe: true });
    const second = admit(first.next, C, 1_004);
    expect(second.admission).toEqual({ allow: true, probe: true });
    expect(admit(second.next, C, 1_005).admission.allow).toBe(false);
    // A probe lost with its isolate is given up after a cool-down.
    expect(admit(second.next, C, 1_004 + C.cooldownMs).admission.allow).toBe(true);
    expect(onSuccess(second.next, C, 1_010).change).toMatchObject({ to: "closed" });
    expect(onFailure(second.next, C, 1_010, 0).next).toMatchObject({ state: "open", openUntil: 2_010 });
  });

  it("a late result of a call made before it opened changes nothing", () => {
    const open = onFailure(fail(fail(closedState(0), 1), 2), C, 3, 0).next;
    expect(onFailure(open, C, 10).change).toBeNull();
    expect(onSuccess(open, C, 10).next).toBe(open);
  });
});
