/**
 * A run's trace, derived from its durable records (docs/telemetry.md): the run row, its steps and
 * its event log. Nothing is recorded for tracing alone, so a run costs no extra row or call for
 * it; and the derivation is deterministic — a span's id is a hash of the run's id and what the
 * span is — so an export repeated after a kill sends the same span ids, which a collector that
 * dedups by span id sees once.
 *
 * Spans: `factory.run.execute` (the root: created → terminal), one `factory.job.execute` per
 * attempt (parent: the root), `factory.wait` for a gate, sleep or signal a step waited on, and
 * `factory.external.{service}` for an attempt's outgoing calls (parent: the attempt; from the
 * `step.log` lines its report's `calls` became, whose traceparent named the same span).
 */

/** The message of a `step.log` event that records an outgoing call (attempt-engine.ts writes it). */
export const EXTERNAL_CALL = "external call";
import { attemptSpan, externalSpan, spanIdOf } from "../../lib/trace";
import type { HttpRequestRecord } from "../../../schema/run";
import type { EventRow, RunRow, StepRow } from "./rows";

/** A span as the exporter takes it: ids in hex, times in epoch ms. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** An `http.server` span is named `{method} {route}`, as the HTTP conventions name server spans. */
  name:
    | "factory.run.execute"
    | "factory.job.execute"
    | "factory.wait"
    | `factory.external.${string}`
    | `${string} /v1/${string}`;
  /** OTel span kind: the root and `http.server` are servers, external calls clients; the rest internal. */
  kind?: "server" | "client" | "internal";
  startMs: number;
  endMs: number;
  /** OTel status: unset unless the work failed. */
  error: string | null;
  attributes: Record<string, string | number | boolean>;
}

const ENDS_ATTEMPT: Record<string, string> = {
  "step.succeeded": "succeeded",
  "step.failed": "failed",
  "step.retrying": "retrying",
  "step.lease_expired": "timed_out",
  "step.cancelled": "cancelled",
  "step.result_refused": "refused",
};
const ENDS_WAIT = new Set([
  "step.approved",
  "step.rejected",
  "step.signal_received",
  "step.approval_expired",
  "step.succeeded",
  "step.failed",
  "step.cancelled",
  "step.skipped",
]);

interface Open {
  stepId: string;
  attempt: number;
  queuedAt: number | null;
  startedAt: number | null;
}

const attemptOf = (e: EventRow): number | null => {
  const a = (JSON.parse(e.data) as { attempt?: unknown }).attempt;
  return typeof a === "number" ? a : null;
};

const errorCodeOf = (e: EventRow): string | null => {
  const err = (JSON.parse(e.data) as { error?: { code?: unknown } }).error;
  return typeof err?.code === "string" ? err.code : null;
};

/** Every span of a finished run, root first. */
export async function runSpans(
  run: RunRow,
  steps: readonly StepRow[],
  events: readonly EventRow[],
): Promise<SpanRecord[]> {
  const end = run.finished_at ?? events.at(-1)?.occurred_at ?? run.created_at;
  const rootId = spanIdOf(run.id, "run");
  const origin = run.origin ? (JSON.parse(run.origin) as { kind?: string }).kind : "api";
  const spans: SpanRecord[] = [
    {
      traceId: run.trace_id,
      spanId: rootId,
      parentSpanId: null,
      name: "factory.run.execute",
      startMs: run.created_at,
      endMs: end,
      error: run.status === "failed" ? (run.error ? errorCodeOfJson(run.error) : "run.failed") : null,
      attributes: {
        "factory.tenant": run.tenant_id,
        "factory.project": run.project,
        "factory.blueprint": run.blueprint ?? "",
        "factory.run.id": run.id,
        "factory.run.status": run.status,
        "factory.run.steps": steps.length,
        "factory.run.origin": origin ?? "api",
      },
    },
  ];
  const byStep = new Map(steps.map((s) => [s.id, s]));
  spans.push(...(await attemptSpans(run, rootId, byStep, events, end)));
  spans.push(...(await waitSpans(run, rootId, events, end)));
  spans.push(...externalSpans(run, events));
  spans.push(...httpSpans(run, rootId, events));
  return spans;
}

function errorCodeOfJson(error: string): string {
  const code = (JSON.parse(error) as { code?: unknown }).code;
  return typeof code === "string" ? code : "run.failed";
}

/** One span per attempt that was dispatched: from its queueing (or start) to its end. */
async function attemptSpans(
  run: RunRow,
  rootId: string,
  byStep: ReadonlyMap<string, StepRow>,
  events: readonly EventRow[],
  runEnd: number,
): Promise<SpanRecord[]> {
  const open = new Map<string, Open>();
  const out: SpanRecord[] = [];
  const close = async (o: Open, at: number, outcome: string, code: string | null) => {
    const step = byStep.get(o.stepId);
    const start = o.startedAt ?? o.queuedAt ?? at;
    out.push({
      traceId: run.trace_id,
      spanId: spanIdOf(run.id, attemptSpan(o.stepId, o.attempt)),
      parentSpanId: rootId,
      name: "factory.job.execute",
      startMs: start,
      endMs: Math.max(start, at),
      error: outcome === "succeeded" || outcome === "cancelled" ? null : (code ?? outcome),
      attributes: {
        "factory.step.id": o.stepId,
        "factory.job.type": step?.type ?? "",
        "factory.job.pool": step?.pool ?? "",
        "factory.job.attempt": o.attempt,
        "factory.job.queue_wait_ms": o.startedAt !== null && o.queuedAt !== null ? o.startedAt - o.queuedAt : 0,
        "factory.job.outcome": outcome,
        ...(code ? { "error.type": code } : {}),
      },
    });
  };
  for (const e of events) {
    if (!e.step_id) continue;
    const attempt = attemptOf(e);
    const key = e.step_id;
    if (e.type === "step.queued" && attempt !== null) {
      open.set(key, { stepId: e.step_id, attempt, queuedAt: e.occurred_at, startedAt: null });
    } else if (e.type === "step.started" && attempt !== null) {
      const o = open.get(key);
      if (o && o.attempt === attempt) o.startedAt = e.occurred_at;
      else open.set(key, { stepId: e.step_id, attempt, queuedAt: null, startedAt: e.occurred_at });
    } else {
      const outcome = ENDS_ATTEMPT[e.type];
      const o = open.get(key);
      if (!outcome || !o || (attempt !== null && attempt !== o.attempt)) continue;
      open.delete(key);
      await close(o, e.occurred_at, outcome, errorCodeOf(e));
    }
  }
  // Attempts the run's end cut short (a cancelled or failed run): they end with it.
  for (const o of open.values()) await close(o, runEnd, "cancelled", null);
  return out;
}

/** A gate, sleep or signal a step waited on: from `step.waiting` to what ended the wait. */
async function waitSpans(
  run: RunRow,
  rootId: string,
  events: readonly EventRow[],
  runEnd: number,
): Promise<SpanRecord[]> {
  const waiting = new Map<string, { at: number; kind: string; n: number }>();
  const out: SpanRecord[] = [];
  let n = 0;
  const close = async (stepId: string, w: { at: number; kind: string; n: number }, at: number, outcome: string) =>
    out.push({
      traceId: run.trace_id,
      spanId: spanIdOf(run.id, `wait:${stepId}:${w.n}`),
      parentSpanId: rootId,
      name: "factory.wait",
      startMs: w.at,
      endMs: Math.max(w.at, at),
      error: null,
      attributes: { "factory.step.id": stepId, "factory.wait.kind": w.kind, "factory.wait.outcome": outcome },
    });
  for (const e of events) {
    if (!e.step_id) continue;
    if (e.type === "step.waiting") {
      const kind = (JSON.parse(e.data) as { kind?: unknown }).kind;
      waiting.set(e.step_id, { at: e.occurred_at, kind: typeof kind === "string" ? kind : "gate", n: n++ });
    } else if (ENDS_WAIT.has(e.type) || (e.type === "step.queued" && waiting.get(e.step_id)?.kind === "flow")) {
      // A wait for a flow-control key (step-flow.ts) ends with the dispatch it waited for.
      const w = waiting.get(e.step_id);
      if (!w) continue;
      waiting.delete(e.step_id);
      await close(e.step_id, w, e.occurred_at, e.type.slice("step.".length));
    }
  }
  for (const [stepId, w] of waiting) await close(stepId, w, runEnd, "run_ended");
  return out;
}

/** An attempt's outgoing calls, each under the attempt's span. */
function externalSpans(run: RunRow, events: readonly EventRow[]): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (const e of events) {
    if (e.type !== "step.log" || !e.step_id) continue;
    const data = JSON.parse(e.data) as { attempt?: number; message?: string; fields?: Record<string, unknown> };
    const f = data.fields;
    if (data.message !== EXTERNAL_CALL || typeof data.attempt !== "number" || !f) continue;
    const [service, n, startMs, endMs] = [String(f.service), Number(f.n), Number(f.startMs), Number(f.endMs)];
    const error = typeof f.error === "string" ? f.error : null;
    out.push({
      traceId: run.trace_id,
      spanId: spanIdOf(run.id, externalSpan(e.step_id, data.attempt, n)),
      parentSpanId: spanIdOf(run.id, attemptSpan(e.step_id, data.attempt)),
      name: `factory.external.${service}`,
      kind: "client",
      startMs,
      endMs: Math.max(startMs, endMs),
      error,
      attributes: {
        "factory.step.id": e.step_id,
        "factory.job.attempt": data.attempt,
        "factory.external.service": service,
        ...(error ? { "error.type": error } : {}),
      },
    });
  }
  return out;
}

/**
 * The API requests that created or controlled the run (their events keep them): server spans
 * under the run's root, attributed by the OpenTelemetry HTTP conventions.
 */
/** Step events that a gate decision or a signal writes, naming the API request that caused it. */
const GATE_EVENTS: ReadonlySet<string> = new Set(["step.approved", "step.rejected", "step.signal_received"]);

function httpSpans(run: RunRow, rootId: string, events: readonly EventRow[]): SpanRecord[] {
  const out: SpanRecord[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    // Run controls, and the gate decisions and signals that name their request (gate-engine.ts).
    if (!e.type.startsWith("run.") && !GATE_EVENTS.has(e.type)) continue;
    const r = (JSON.parse(e.data) as { request?: HttpRequestRecord }).request;
    if (!r || typeof r.method !== "string" || typeof r.route !== "string") continue;
    // A signal that completes several steps names its one request in each of their events.
    const request = `${r.method} ${r.route} ${r.startMs}`;
    if (seen.has(request)) continue;
    seen.add(request);
    const startMs = Math.min(Number(r.startMs), e.occurred_at);
    out.push({
      traceId: run.trace_id,
      spanId: spanIdOf(run.id, `http:${e.seq}`),
      parentSpanId: rootId,
      name: `${r.method} ${r.route}` as `${string} /v1/${string}`,
      kind: "server",
      startMs,
      endMs: e.occurred_at,
      error: r.status >= 500 ? String(r.status) : null,
      attributes: {
        "http.request.method": r.method,
        "http.route": r.route,
        "http.response.status_code": r.status,
        "factory.run.id": run.id,
        ...(e.step_id ? { "factory.step.id": e.step_id } : {}),
        ...(r.status >= 500 ? { "error.type": String(r.status) } : {}),
      },
    });
  }
  return out;
}
