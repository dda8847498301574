import { describe, expect, it } from "vitest";
import { attemptsByStep, killedOut, type Kill, type WireEvent } from "../chaos/attempts";

const at = (ms: number) => new Date(ms).toISOString();
const timeout = { code: "step.timeout", message: "no result or heartbeat in time (timeout 3000 ms)" };
let seq = 0;
const ev = (type: string, ms: number, attempt: number, data: WireEvent["data"] = {}): WireEvent => ({
  eventId: `evt_${++seq}`,
  seq,
  type,
  stepId: "s",
  occurredAt: at(ms),
  data: { attempt, ...data },
});
/** An attempt queued and started at `start`, ended by `end` at `stop`. */
const attempt = (n: number, start: number, stop: number, end: WireEvent["data"]["error"], last = false) => [
  ev("step.queued", start, n),
  ev("step.started", start, n),
  ev(last ? "step.failed" : "step.retrying", stop, n, { error: end }),
];
const kill = (n: number, killedAt: number): Kill => ({ n, killedAt, upAt: killedAt + 2_000 });

describe("the chaos drill's reading of attempts", () => {
  it("a step is killed out when each failed attempt timed out with a kill during its run", () => {
    const events = [
      ...attempt(1, 0, 3_500, timeout),
      ...attempt(2, 4_000, 7_500, timeout),
      ...attempt(3, 8_000, 11_500, timeout, true),
    ];
    const attempts = attemptsByStep(events, [kill(1, 100), kill(2, 4_200), kill(3, 8_050)]).get("s")!;
    expect(attempts.map((a) => [a.n, a.outcome, a.kills])).toEqual([
      [1, "failed", [1]],
      [2, "failed", [2]],
      [3, "failed", [3]],
    ]);
    expect(killedOut(attempts, 0, 1_000)).toBe(true);
  });

  it("a timeout with no kill during its run is not explained by kills, unless the plan injected it", () => {
    const events = [
      ...attempt(1, 0, 3_500, timeout),
      ...attempt(2, 4_000, 7_500, timeout),
      ...attempt(3, 8_000, 11_500, timeout, true),
    ];
    // Kill 2 fell before attempt 2 started: attempt 2 timed out on its own.
    const attempts = attemptsByStep(events, [kill(1, 100), kill(2, 3_900), kill(3, 8_050)]).get("s")!;
    expect(attempts[1]!.kills).toEqual([]);
    expect(killedOut(attempts, 0, 1_000)).toBe(false);
    expect(killedOut(attempts, 1, 1_000)).toBe(true); // a system.crash step with times: 1
  });

  it("a kill long after the attempt started, within its lease, does not explain its timeout", () => {
    const events = [...attempt(1, 0, 60_500, timeout, true)];
    const attempts = attemptsByStep(events, [kill(1, 5_000)]).get("s")!;
    expect(attempts[0]).toMatchObject({ kills: [1], killedAfterMs: 5_000 });
    expect(killedOut(attempts, 0, 1_000)).toBe(false);
    expect(killedOut(attemptsByStep(events, [kill(1, 200)]).get("s")!, 0, 1_000)).toBe(true);
  });

  it("a failure of another kind, or no kill at all, is never a kill-out", () => {
    const other = { code: "system.fail", message: "fails on purpose" };
    const events = [...attempt(1, 0, 100, other), ...attempt(2, 200, 3_700, timeout, true)];
    expect(killedOut(attemptsByStep(events, [kill(1, 250)]).get("s")!, 0, 1_000)).toBe(false);
    expect(killedOut(attemptsByStep(events, []).get("s")!, 5, 1_000)).toBe(false);
  });

  it("an attempt lost before it started ends without counting as a failure", () => {
    const events = [
      ev("step.queued", 0, 1),
      ev("step.lease_expired", 2_000, 1, { phase: "queued" }),
      ev("step.queued", 2_000, 2),
      ev("step.started", 2_100, 2),
      ev("step.succeeded", 2_400, 2),
    ];
    const attempts = attemptsByStep(events, [kill(1, 50)]).get("s")!;
    expect(attempts.map((a) => [a.n, a.outcome, a.kills])).toEqual([
      [1, "lost", []],
      [2, "succeeded", []],
    ]);
  });
});
