import { describe, expect, it } from "vitest";
import type { EventType } from "../../../schema/vocabulary";
import { deriveTimeline, stepTimings, type TimelineEvent } from "../../../dashboard/src/timeline";

const T0 = Date.parse("2026-11-27T10:00:00.000Z");
let seq = 0;
const ev = (ms: number, type: EventType, stepId?: string, data: Record<string, unknown> = {}): TimelineEvent => ({
  seq: ++seq,
  type,
  stepId,
  occurredAt: new Date(T0 + ms).toISOString(),
  data,
});

describe("deriveTimeline", () => {
  it("splits each attempt into queue wait, execution and the backoff before the next attempt", () => {
    const events = [
      ev(0, "run.requested"),
      ev(5, "step.queued", "a", { attempt: 1 }),
      ev(25, "step.started", "a", { attempt: 1 }),
      ev(125, "step.retrying", "a", {
        attempt: 1,
        error: { code: "boom", message: "failed on purpose", retryable: true },
        delayMs: 400,
      }),
      ev(525, "step.queued", "a", { attempt: 2 }),
      ev(535, "step.started", "a", { attempt: 2 }),
      ev(735, "step.succeeded", "a", { attempt: 2, durationMs: 200 }),
      ev(740, "step.queued", "b", { attempt: 1 }),
      ev(760, "step.started", "b", { attempt: 1 }),
      ev(800, "step.succeeded", "b", { attempt: 1, durationMs: 40 }),
      ev(801, "run.succeeded"),
    ];
    const t = deriveTimeline(events);
    expect(t.origin).toBe(T0);
    expect(t.spans).toEqual([
      {
        stepId: "a",
        attempt: 1,
        queuedAt: T0 + 5,
        startedAt: T0 + 25,
        endedAt: T0 + 125,
        outcome: "retrying",
        backoffUntil: T0 + 525,
        error: "boom: failed on purpose",
      },
      {
        stepId: "a",
        attempt: 2,
        queuedAt: T0 + 525,
        startedAt: T0 + 535,
        endedAt: T0 + 735,
        outcome: "succeeded",
        backoffUntil: null,
        error: null,
      },
      {
        stepId: "b",
        attempt: 1,
        queuedAt: T0 + 740,
        startedAt: T0 + 760,
        endedAt: T0 + 800,
        outcome: "succeeded",
        backoffUntil: null,
        error: null,
      },
    ]);
    expect(stepTimings(t)).toEqual([
      { stepId: "a", attempts: 2, queueWaitMs: 30, executionMs: 300, backoffMs: 400, waitingMs: 0 },
      { stepId: "b", attempts: 1, queueWaitMs: 20, executionMs: 40, backoffMs: 0, waitingMs: 0 },
    ]);
  });

  it("orders by seq, keeps an attempt open while it runs, and marks a lost lease", () => {
    const events = [
      ev(10, "step.queued", "a", { attempt: 1 }),
      ev(20, "step.started", "a", { attempt: 1 }),
      ev(90, "step.lease_expired", "a", { attempt: 1, phase: "running" }),
      ev(95, "step.queued", "a", { attempt: 2 }),
      ev(99, "step.started", "a", { attempt: 2 }),
    ].reverse();
    const t = deriveTimeline(events);
    expect(t.spans.map((s) => [s.attempt, s.outcome, s.endedAt === null])).toEqual([
      [1, "lost", false],
      [2, "running", true],
    ]);
    // A lost attempt is not followed by a backoff: its step is dispatched again at once.
    expect(stepTimings(t)[0]).toMatchObject({ attempts: 2, queueWaitMs: 14, executionMs: 70, backoffMs: 0 });
  });

  it("ends open attempts on cancel, ignores run events and re-sent dispatches of the same attempt", () => {
    const events = [
      ev(0, "step.queued", "a", { attempt: 1 }),
      ev(30, "step.queued", "a", { attempt: 1 }),
      ev(40, "step.started", "a", { attempt: 1 }),
      ev(50, "run.paused"),
      ev(60, "step.cancelled", "a"),
      ev(61, "step.skipped", "b"),
    ];
    const t = deriveTimeline(events);
    expect(t.spans).toHaveLength(1);
    expect(t.spans[0]).toMatchObject({ queuedAt: T0, startedAt: T0 + 40, endedAt: T0 + 60, outcome: "cancelled" });
  });

  it("has no spans and no origin for an empty log", () => {
    expect(deriveTimeline([])).toEqual({ origin: null, spans: [] });
  });

  it("a gate's wait is its own span: no attempt, no queue wait, no execution", () => {
    const t = deriveTimeline([
      ev(0, "run.requested"),
      ev(10, "step.waiting", "gate", { kind: "approval", title: "Publish?" }),
      ev(5010, "step.approved", "gate", { by: { kind: "key", keyId: "k" } }),
      ev(5010, "step.succeeded", "gate", { attempt: 0, durationMs: 5000 }),
    ]);
    expect(t.spans).toHaveLength(1);
    expect(t.spans[0]).toMatchObject({ stepId: "gate", outcome: "succeeded", waitingFrom: T0 + 10, startedAt: null });
    expect(stepTimings(t)).toEqual([
      { stepId: "gate", attempts: 0, queueWaitMs: 0, executionMs: 0, backoffMs: 0, waitingMs: 5000 },
    ]);
  });

  it("a step's wait for a flow-control key is a waiting span that ends at its dispatch, then its attempt", () => {
    const t = deriveTimeline([
      ev(0, "run.requested"),
      ev(10, "step.waiting", "s", { kind: "flow", reason: "concurrency.key", key: "deploy", attempt: 1 }),
      ev(1010, "step.queued", "s", { attempt: 1 }),
      ev(1020, "step.started", "s", { attempt: 1 }),
      ev(1520, "step.succeeded", "s", { attempt: 1, durationMs: 500 }),
    ]);
    expect(t.spans).toHaveLength(2);
    expect(t.spans[0]).toMatchObject({ stepId: "s", outcome: "waiting", waitingFrom: T0 + 10, endedAt: T0 + 1010 });
    expect(t.spans[1]).toMatchObject({ stepId: "s", attempt: 1, outcome: "succeeded", queuedAt: T0 + 1010 });
  });
});
