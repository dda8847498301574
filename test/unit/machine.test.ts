import { describe, expect, it } from "vitest";
import {
  decideFailure,
  transitionRun,
  transitionStep,
  type RunEvent,
  type StepEvent,
  queuedLeaseMs,
} from "../../src/control/run/machine";
import { RUN_STATUSES, STEP_STATUSES, type RunStatus, type StepStatus } from "../../schema/vocabulary";
import type { RetryPolicy } from "../../schema/run";

const RUN_EVENTS: RunEvent[] = [
  "validate",
  "reject",
  "enqueue",
  "start",
  "succeed",
  "fail",
  "cancel",
  "pause",
  "resume",
];
const STEP_EVENTS: StepEvent[] = ["dispatch", "start", "succeed", "retry", "fail", "cancel", "skip", "reuse", "wait"];

/** The documented legal transitions, written out independently of the implementation. */
const LEGAL_RUN: [RunStatus, RunEvent, RunStatus][] = [
  ["requested", "validate", "validated"],
  ["requested", "reject", "failed"],
  ["validated", "enqueue", "queued"],
  ["validated", "cancel", "cancelled"],
  ["queued", "start", "running"],
  ["queued", "cancel", "cancelled"],
  ["queued", "fail", "failed"],
  ["running", "succeed", "succeeded"],
  ["running", "fail", "failed"],
  ["running", "cancel", "cancelled"],
  ["running", "pause", "paused"],
  ["paused", "resume", "running"],
  ["paused", "cancel", "cancelled"],
  ["paused", "fail", "failed"],
  ["paused", "succeed", "succeeded"],
];

const LEGAL_STEP: [StepStatus, StepEvent, StepStatus][] = [
  ["pending", "dispatch", "queued"],
  ["pending", "skip", "skipped"],
  ["pending", "cancel", "cancelled"],
  ["pending", "reuse", "succeeded"],
  ["pending", "wait", "waiting"],
  ["queued", "dispatch", "queued"],
  ["queued", "start", "running"],
  ["queued", "retry", "retrying"],
  ["queued", "fail", "failed"],
  ["queued", "cancel", "cancelled"],
  ["running", "succeed", "succeeded"],
  ["running", "retry", "retrying"],
  ["running", "fail", "failed"],
  ["running", "cancel", "cancelled"],
  ["retrying", "dispatch", "queued"],
  ["retrying", "fail", "failed"],
  ["retrying", "cancel", "cancelled"],
  ["waiting", "succeed", "succeeded"],
  ["waiting", "fail", "failed"],
  ["waiting", "cancel", "cancelled"],
];

describe("transitionRun", () => {
  it.each(LEGAL_RUN)("%s --%s--> %s", (from, event, to) => {
    expect(transitionRun(from, event)).toEqual({ ok: true, to });
  });

  it("refuses every pair not in the legal table", () => {
    const legal = new Set(LEGAL_RUN.map(([f, e]) => `${f}/${e}`));
    let refused = 0;
    for (const from of RUN_STATUSES) {
      for (const event of RUN_EVENTS) {
        if (legal.has(`${from}/${event}`)) continue;
        const t = transitionRun(from, event);
        expect(t.ok, `${from}/${event}`).toBe(false);
        refused++;
      }
    }
    expect(refused).toBe(RUN_STATUSES.length * RUN_EVENTS.length - LEGAL_RUN.length);
  });

  it.each(["succeeded", "failed", "cancelled"] as const)("terminal %s accepts no event", (from) => {
    for (const event of RUN_EVENTS) expect(transitionRun(from, event).ok).toBe(false);
  });

  it("uses stable refusal codes for cancel, resume and pause", () => {
    expect(transitionRun("succeeded", "cancel")).toMatchObject({ ok: false, code: "run.not_cancellable" });
    expect(transitionRun("requested", "cancel")).toMatchObject({ ok: false, code: "run.not_cancellable" });
    expect(transitionRun("running", "resume")).toMatchObject({ ok: false, code: "run.not_resumable" });
    expect(transitionRun("failed", "resume")).toMatchObject({ ok: false, code: "run.not_resumable" });
    expect(transitionRun("paused", "pause")).toMatchObject({ ok: false, code: "run.not_pausable" });
    expect(transitionRun("queued", "pause")).toMatchObject({ ok: false, code: "run.not_pausable" });
  });

  it("uses run.illegal_transition for other refusals, with a message naming state and event", () => {
    const t = transitionRun("succeeded", "start");
    expect(t).toEqual({ ok: false, code: "run.illegal_transition", message: "a succeeded run cannot start" });
    expect(transitionRun("requested", "succeed")).toMatchObject({ ok: false, code: "run.illegal_transition" });
  });
});

describe("transitionStep", () => {
  it.each(LEGAL_STEP)("%s --%s--> %s", (from, event, to) => {
    expect(transitionStep(from, event)).toEqual({ ok: true, to });
  });

  it("refuses every pair not in the legal table with step.illegal_transition", () => {
    const legal = new Set(LEGAL_STEP.map(([f, e]) => `${f}/${e}`));
    let refused = 0;
    for (const from of STEP_STATUSES) {
      for (const event of STEP_EVENTS) {
        if (legal.has(`${from}/${event}`)) continue;
        expect(transitionStep(from, event), `${from}/${event}`).toEqual({
          ok: false,
          code: "step.illegal_transition",
          message: `a ${from} step cannot ${event}`,
        });
        refused++;
      }
    }
    expect(refused).toBe(STEP_STATUSES.length * STEP_EVENTS.length - LEGAL_STEP.length);
  });

  it.each(["succeeded", "failed", "cancelled", "skipped"] as const)("terminal %s accepts no event", (from) => {
    for (const event of STEP_EVENTS) expect(transitionStep(from, event).ok).toBe(false);
  });

  it("cannot skip or start a step that is already running", () => {
    expect(transitionStep("running", "skip").ok).toBe(false);
    expect(transitionStep("running", "start").ok).toBe(false);
    expect(transitionStep("pending", "succeed").ok).toBe(false);
  });
});

describe("decideFailure", () => {
  const policy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1000 };
  const top = () => 0.999999;
  const zero = () => 0;

  it("fails at once on a non-retryable error, even on the first failure", () => {
    expect(decideFailure(policy, 1, { retryable: false }, top)).toEqual({ kind: "fail" });
    expect(decideFailure(policy, 1, { retryable: false, retryAfterMs: 50 }, top)).toEqual({ kind: "fail" });
  });

  it("fails once failures reach maxAttempts", () => {
    expect(decideFailure(policy, 4, { retryable: true }, top).kind).toBe("retry");
    expect(decideFailure(policy, 5, { retryable: true }, top)).toEqual({ kind: "fail" });
    expect(decideFailure(policy, 6, { retryable: true }, top)).toEqual({ kind: "fail" });
  });

  it("a maxAttempts of 1 never retries", () => {
    expect(decideFailure({ ...policy, maxAttempts: 1 }, 1, { retryable: true }, top)).toEqual({ kind: "fail" });
  });

  it("doubles the backoff ceiling with each failure, capped by maxDelayMs", () => {
    const long: RetryPolicy = { maxAttempts: 20, initialDelayMs: 100, maxDelayMs: 1000 };
    const delays = [1, 2, 3, 4, 5, 6, 10].map((f) => decideFailure(long, f, { retryable: true }, top));
    // Full jitter just under 1 lands one below each ceiling: 100, 200, 400, 800, then the 1000 cap.
    expect(delays).toEqual([99, 199, 399, 799, 999, 999, 999].map((delayMs) => ({ kind: "retry", delayMs })));
  });

  it("a random of 0 gives no delay", () => {
    for (const f of [1, 2, 3, 4]) {
      expect(decideFailure(policy, f, { retryable: true }, zero)).toEqual({ kind: "retry", delayMs: 0 });
    }
  });

  it("jitter always stays within [0, ceiling)", () => {
    for (let i = 0; i < 200; i++) {
      const d = decideFailure(policy, 3, { retryable: true });
      if (d.kind !== "retry") throw new Error("expected a retry");
      expect(d.delayMs).toBeGreaterThanOrEqual(0);
      expect(d.delayMs).toBeLessThan(400);
      expect(Number.isInteger(d.delayMs)).toBe(true);
    }
  });

  it("treats retryAfterMs as a floor, not a replacement", () => {
    expect(decideFailure(policy, 1, { retryable: true, retryAfterMs: 5000 }, zero)).toEqual({
      kind: "retry",
      delayMs: 5000,
    });
    // Above the maxDelayMs cap too: the upstream said to wait that long.
    expect(decideFailure(policy, 1, { retryable: true, retryAfterMs: 5000 }, top)).toEqual({
      kind: "retry",
      delayMs: 5000,
    });
    // A floor below the jittered delay changes nothing.
    expect(decideFailure(policy, 4, { retryable: true, retryAfterMs: 10 }, top)).toEqual({
      kind: "retry",
      delayMs: 799,
    });
  });

  it("still fails at maxAttempts even with a retryAfterMs", () => {
    expect(decideFailure(policy, 5, { retryable: true, retryAfterMs: 10 }, zero)).toEqual({ kind: "fail" });
  });
});

describe("queuedLeaseMs (issue 33: a backed-up queue is not a lost message)", () => {
  it("doubles for each dispatch of the step that was lost, at most 4x; failures and holds do not count", () => {
    expect(queuedLeaseMs(3_000, { attempt: 0, failures: 0, holds: 0 })).toBe(3_000);
    expect(queuedLeaseMs(3_000, { attempt: 1, failures: 1, holds: 0 })).toBe(3_000);
    expect(queuedLeaseMs(3_000, { attempt: 2, failures: 1, holds: 1 })).toBe(3_000);
    expect(queuedLeaseMs(3_000, { attempt: 1, failures: 0, holds: 0 })).toBe(6_000);
    expect(queuedLeaseMs(3_000, { attempt: 3, failures: 1, holds: 0 })).toBe(12_000);
    expect(queuedLeaseMs(3_000, { attempt: 12, failures: 0, holds: 0 })).toBe(12_000);
  });
});
