/**
 * Per-attempt timeline of a run's steps, derived from its event log: how long each attempt
 * waited in its pool's queue, how long it executed, how it ended, and the backoff before the
 * next attempt. Pure: unit-tested in Node against event sequences shaped like the engine's.
 */
import type { EventType } from "../../schema/vocabulary";

/** The part of an event the timeline reads (a WireEvent fits). */
export interface TimelineEvent {
  seq: number;
  type: EventType;
  stepId?: string | undefined;
  occurredAt: string;
  data: Record<string, unknown>;
}

export type AttemptOutcome =
  | "queued"
  | "running"
  | "succeeded"
  | "retrying"
  | "failed"
  | "lost"
  | "cancelled"
  | "waiting";

export interface AttemptSpan {
  stepId: string;
  attempt: number;
  /** Epoch ms; null when the log does not say (e.g. a step re-dispatched without a queued event). */
  queuedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  outcome: AttemptOutcome;
  /** Until when the step waited before its next attempt, after this one failed and was retried. */
  backoffUntil: number | null;
  error: string | null;
  /** A gate (approval, signal): when it began waiting; it has no queue wait or execution. */
  waitingFrom?: number;
}

export interface StepTiming {
  stepId: string;
  attempts: number;
  queueWaitMs: number;
  executionMs: number;
  backoffMs: number;
  /** Time a gate waited for a decision or a signal: not execution, and it costs nothing. */
  waitingMs: number;
}

export interface Timeline {
  /** Epoch ms of the first event: the origin of the chart's axis. */
  origin: number | null;
  spans: AttemptSpan[];
}

const attemptOf = (e: TimelineEvent): number | null => (typeof e.data.attempt === "number" ? e.data.attempt : null);
const errorOf = (e: TimelineEvent): string | null => {
  const err = e.data.error;
  if (err && typeof err === "object" && "message" in err && typeof err.message === "string") {
    const code = "code" in err && typeof err.code === "string" ? `${err.code}: ` : "";
    return `${code}${err.message}`;
  }
  return null;
};

/** The spans so far and each step's latest attempt, as deriveTimeline() walks the log. */
interface Walk {
  spans: AttemptSpan[];
  open: Map<string, AttemptSpan>;
}

const newSpan = (stepId: string, attempt: number, queuedAt: number | null): AttemptSpan => ({
  stepId,
  attempt,
  queuedAt,
  startedAt: null,
  endedAt: null,
  outcome: "queued",
  backoffUntil: null,
  error: null,
});

function begin(w: Walk, span: AttemptSpan): AttemptSpan {
  w.spans.push(span);
  w.open.set(span.stepId, span);
  return span;
}

/** The attempt an event belongs to: the step's latest, or a new one the log never showed queued. */
function spanFor(w: Walk, e: TimelineEvent, stepId: string, at: number): AttemptSpan {
  const attempt = attemptOf(e);
  const current = w.open.get(stepId);
  if (current && (attempt === null || current.attempt === attempt)) return current;
  // It started straight away, or the log was cut.
  if (current && current.outcome === "retrying" && current.backoffUntil === null) current.backoffUntil = at;
  return begin(w, newSpan(stepId, attempt ?? (current ? current.attempt + 1 : 1), null));
}

function queued(w: Walk, e: TimelineEvent, stepId: string, at: number): void {
  const prev = w.open.get(stepId);
  const attempt = attemptOf(e);
  if (prev && attempt !== null && prev.attempt === attempt) {
    prev.queuedAt ??= at; // a re-sent dispatch of the same attempt
    return;
  }
  if (prev && prev.outcome === "retrying" && prev.backoffUntil === null) prev.backoffUntil = at;
  if (prev && prev.endedAt === null) {
    prev.endedAt = at;
    // A wait for a flow-control key ends with the dispatch it waited for; any other open attempt
    // was superseded without an ending event of its own.
    if (prev.outcome !== "waiting") prev.outcome = "lost";
  }
  begin(w, newSpan(stepId, attempt ?? (prev ? prev.attempt + 1 : 1), at));
}

const ENDINGS: Partial<Record<string, AttemptOutcome>> = {
  "step.succeeded": "succeeded",
  "step.failed": "failed",
  "step.retrying": "retrying",
  "step.lease_expired": "lost",
};

function apply(w: Walk, e: TimelineEvent, stepId: string, at: number): void {
  const ending = ENDINGS[e.type];
  if (ending) {
    const span = spanFor(w, e, stepId, at);
    span.endedAt = at;
    span.outcome = ending;
    span.error = errorOf(e);
  } else if (e.type === "step.queued") queued(w, e, stepId, at);
  else if (e.type === "step.waiting") begin(w, { ...newSpan(stepId, 0, null), outcome: "waiting", waitingFrom: at });
  else if (e.type === "step.started") {
    const span = spanFor(w, e, stepId, at);
    span.startedAt ??= at;
    span.outcome = "running";
  } else if (e.type === "step.cancelled") {
    const span = w.open.get(stepId);
    if (span && span.endedAt === null) {
      span.endedAt = at;
      span.outcome = "cancelled";
    }
  }
}

export function deriveTimeline(events: readonly TimelineEvent[]): Timeline {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const first = sorted.at(0);
  const w: Walk = { spans: [], open: new Map() };
  for (const e of sorted) if (e.stepId) apply(w, e, e.stepId, Date.parse(e.occurredAt));
  return { origin: first ? Date.parse(first.occurredAt) : null, spans: w.spans };
}

/** Totals per step, in the order steps first appear in the timeline. */
export function stepTimings(timeline: Timeline): StepTiming[] {
  const byStep = new Map<string, StepTiming>();
  for (const s of timeline.spans) {
    const t = byStep.get(s.stepId) ?? {
      stepId: s.stepId,
      attempts: 0,
      queueWaitMs: 0,
      executionMs: 0,
      backoffMs: 0,
      waitingMs: 0,
    };
    if (s.waitingFrom !== undefined) {
      if (s.endedAt !== null) t.waitingMs += s.endedAt - s.waitingFrom;
      byStep.set(s.stepId, t);
      continue; // a wait is no attempt
    }
    t.attempts++;
    if (s.queuedAt !== null && s.startedAt !== null) t.queueWaitMs += s.startedAt - s.queuedAt;
    if (s.startedAt !== null && s.endedAt !== null) t.executionMs += s.endedAt - s.startedAt;
    if (s.endedAt !== null && s.backoffUntil !== null) t.backoffMs += s.backoffUntil - s.endedAt;
    byStep.set(s.stepId, t);
  }
  return [...byStep.values()];
}
