/**
 * The Workers Analytics Engine data points this runtime writes: one dataset, four kinds of
 * point. Analytics Engine columns are positional (blob1…blob20, double1…double20, index1), so
 * this file is the schema: the position of a field in its list is its column number. The code
 * encodes points only through these lists (src/analytics/points.ts), the SQL views in
 * ./views/ name columns by these positions, and tests hold all three together.
 *
 * Every point: index1 = tenant id (the sampling key, so per-tenant figures stay accurate under
 * sampling), blob1 = kind. Counts in SQL must weight by `_sample_interval`.
 */

export const DATASET = "factory_runtime";

export interface FieldDoc {
  name: string;
  doc: string;
}

export interface PointSchema {
  doc: string;
  /** When a point of this kind is written. */
  when: string;
  blobs: readonly FieldDoc[];
  doubles: readonly FieldDoc[];
}

const f = <N extends string>(name: N, doc: string) => ({ name, doc }) as const;

/** What an attempt meters, summed: the same columns, in the same order, in run and usage points. */
const METERED = [
  f("attempts", "attempts dispatched"),
  f("wallMs", "sum of attempt execution times"),
  f("cpuMs", "estimated handler CPU time"),
  f("artifactBytes", "artifact bytes written"),
  f("tokensIn", "AI tokens in"),
  f("tokensOut", "AI tokens out"),
] as const;

export const POINTS = {
  run: {
    doc: "A run that reached a terminal state.",
    when: "by the run's Durable Object, after the transaction that ended the run commits",
    blobs: [
      f("kind", "'run'"),
      f("project", "the run's project"),
      f("blueprint", "the blueprint, or '' for a run of explicit steps"),
      f("status", "succeeded | failed | cancelled"),
      f("errorCode", "the run's error code, or ''"),
      f("priority", "high | normal | low"),
      f("runId", "the run id"),
    ],
    doubles: [
      f("durationMs", "submission to end"),
      f("queuedMs", "submission to start (admission wait)"),
      f("steps", "steps that ran"),
      ...METERED,
      f("costUsd", "the run's cost under the deployment's price table"),
      f(
        "withinExpected",
        "1 if a blueprint run succeeded within the blueprint's expected time, 0 if not, -1 if not judged",
      ),
    ],
  },
  step: {
    doc: "One attempt of a step that ended: succeeded, failed for good, or failed and will retry.",
    when: "by the run's Durable Object, after the transaction that recorded the attempt's end commits",
    blobs: [
      f("kind", "'step'"),
      f("project", "the run's project"),
      f("blueprint", "the run's blueprint, or ''"),
      f("pool", "the worker pool"),
      f("stepType", "the job type"),
      f("outcome", "succeeded | failed | retrying"),
      f("errorCode", "the attempt's error code, or ''"),
      f("runId", "the run id"),
      f("stepId", "the step id"),
    ],
    doubles: [
      f("attempt", "the attempt number"),
      f("queueWaitMs", "dispatch to start (0 if it never started)"),
      f("execMs", "start to end (0 if it never started)"),
      f("cpuMs", "estimated handler CPU time"),
      f("tokensIn", "AI tokens in"),
      f("tokensOut", "AI tokens out"),
      f("artifactBytes", "artifact bytes this attempt wrote"),
      f("queueOps", "queue operations"),
      f("objectCalls", "Durable Object calls"),
      f("r2Writes", "R2 writes"),
    ],
  },
  usage: {
    doc: "What a finished run used in one pool, priced: the billing record.",
    when: "with the run point, one per pool the run used",
    blobs: [
      f("kind", "'usage'"),
      f("project", "the run's project"),
      f("blueprint", "the run's blueprint, or ''"),
      f("pool", "the worker pool"),
      f("runId", "the run id"),
    ],
    doubles: [
      f("steps", "steps that ran in the pool"),
      ...METERED,
      f("queueOps", "queue operations"),
      f("objectCalls", "Durable Object calls"),
      f("r2Writes", "R2 writes"),
      f("costUsd", "the cost of this usage under the deployment's price table"),
    ],
  },
  webhook: {
    doc: "One webhook delivery attempt.",
    when: "by the webhook consumer, after the attempt's outcome is recorded",
    blobs: [
      f("kind", "'webhook'"),
      f("endpointId", "the endpoint"),
      f("eventType", "the event delivered"),
      f("outcome", "delivered | retrying (will be tried again) | failed (gave up)"),
      f("statusClass", "2xx | 3xx | 4xx | 5xx | network | ssrf"),
    ],
    doubles: [
      f("attempt", "the delivery attempt number"),
      f("latencyMs", "request to response"),
      f("httpStatus", "the response status, 0 if none"),
    ],
  },
  "telemetry.dropped": {
    doc: "A run's spans given up for one collector: they were never delivered (docs/telemetry.md).",
    when: "by the run's Durable Object, when its export is dropped: the backlog overflowed (oldest first), it waited past TELEMETRY_GIVE_UP_MS, or the tenant's collector is gone",
    blobs: [
      f("kind", "'telemetry.dropped'"),
      f("collector", "deployment | tenant"),
      f("reason", "backlog | expired | gone"),
      f("runId", "the run id"),
    ],
    doubles: [f("spans", "spans dropped (0 when not built)"), f("ageMs", "the run's end to the drop")],
  },
} as const satisfies Record<string, PointSchema>;

export type PointKind = keyof typeof POINTS;
type Names<L extends readonly FieldDoc[]> = L[number]["name"];

/** A point's values by field name: strings for blobs (kind is implied), numbers for doubles. */
export type PointValues<K extends PointKind> = {
  [B in Exclude<Names<(typeof POINTS)[K]["blobs"]>, "kind">]: string;
} & {
  [D in Names<(typeof POINTS)[K]["doubles"]>]: number;
};

/** Platform limits (https://developers.cloudflare.com/analytics/analytics-engine/limits/). */
export const LIMITS = { blobs: 20, doubles: 20, indexBytes: 96, blobBytes: 16_384 } as const;
