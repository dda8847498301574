/**
 * A run's trace from its records (src/control/run/spans.ts): deterministic span ids, one job span
 * per attempt under the root, wait spans for gates, and the OTLP encoding through the
 * OpenTelemetry serializer; and the attempt's traceparent on a model provider's call.
 */
import { describe, expect, it } from "vitest";
import type { EventRow, RunRow, StepRow } from "../../src/control/run/rows";
import { runSpans } from "../../src/control/run/spans";
import { openAiCompatible } from "../../src/data/agents/providers";
import { attemptSpan, spanIdOf, traceparentOf } from "../../src/lib/trace";
import { encodeSpans, parseOtlpHeaders, tracesUrl } from "../../src/telemetry/otlp";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const run = {
  id: "run_x",
  tenant_id: "t",
  project: "p",
  blueprint: null,
  status: "succeeded",
  trace_id: TRACE,
  error: null,
  created_at: 1_000,
  finished_at: 9_000,
  origin: null,
} as unknown as RunRow;
const steps = [
  { id: "a", type: "system.echo", pool: "system" },
  { id: "gate", type: "approval", pool: "control" },
] as unknown as StepRow[];
let seq = 0;
const ev = (type: string, step: string | null, at: number, data: object = {}): EventRow =>
  ({ seq: ++seq, type, step_id: step, occurred_at: at, data: JSON.stringify(data) }) as EventRow;
const events = [
  ev("run.requested", null, 1_000),
  ev("step.queued", "a", 1_100, { attempt: 1 }),
  ev("step.started", "a", 1_200, { attempt: 1 }),
  ev("step.retrying", "a", 1_500, { attempt: 1, error: { code: "job.failed" } }),
  ev("step.queued", "a", 2_000, { attempt: 2 }),
  ev("step.started", "a", 2_050, { attempt: 2 }),
  ev("step.succeeded", "a", 2_400, { attempt: 2 }),
  ev("step.waiting", "gate", 2_500, { kind: "approval" }),
  ev("step.approved", "gate", 8_000, {}),
  ev("run.succeeded", null, 9_000),
];

describe("a run's spans", () => {
  it("are one root, a job span per attempt and a wait span, all under the root, with stable ids", async () => {
    const spans = await runSpans(run, steps, events);
    expect(spans.map((s) => s.name)).toEqual([
      "factory.run.execute",
      "factory.job.execute",
      "factory.job.execute",
      "factory.wait",
    ]);
    const [root, first, second, wait] = spans;
    expect(root).toMatchObject({ traceId: TRACE, parentSpanId: null, startMs: 1_000, endMs: 9_000, error: null });
    for (const s of [first, second, wait]) expect(s?.parentSpanId).toBe(root?.spanId);
    expect(first).toMatchObject({ startMs: 1_200, endMs: 1_500, error: "job.failed" });
    expect(first?.attributes).toMatchObject({
      "factory.job.attempt": 1,
      "factory.job.queue_wait_ms": 100,
      "factory.job.outcome": "retrying",
    });
    expect(second?.attributes).toMatchObject({ "factory.job.attempt": 2, "factory.job.outcome": "succeeded" });
    expect(wait).toMatchObject({ startMs: 2_500, endMs: 8_000, attributes: { "factory.wait.outcome": "approved" } });
    // The same records give the same ids: a re-export after a kill duplicates nothing but equal ids.
    expect((await runSpans(run, steps, events)).map((s) => s.spanId)).toEqual(spans.map((s) => s.spanId));
    expect(second?.spanId).toBe(spanIdOf("run_x", attemptSpan("a", 2)));
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    expect(encodeSpans(spans).byteLength).toBeGreaterThan(100);
  });

  it("a step's wait for a flow-control key is a wait span that ends at its dispatch", async () => {
    const keyed = [
      ev("run.requested", null, 1_000),
      ev("step.waiting", "a", 1_050, { kind: "flow", reason: "rate.key", key: "org:acme", attempt: 1 }),
      ev("step.queued", "a", 1_800, { attempt: 1, tokenAt: 1_790 }),
      ev("step.started", "a", 1_900, { attempt: 1 }),
      ev("step.succeeded", "a", 2_000, { attempt: 1 }),
      ev("run.succeeded", null, 2_100),
    ];
    const spans = await runSpans(run, steps.slice(0, 1), keyed);
    const wait = spans.find((s) => s.name === "factory.wait");
    expect(wait).toMatchObject({
      startMs: 1_050,
      endMs: 1_800,
      attributes: { "factory.wait.kind": "flow", "factory.wait.outcome": "queued" },
    });
  });

  it("names the OTLP traces URL and parses headers as OTEL_EXPORTER_OTLP_HEADERS writes them", () => {
    expect(tracesUrl("http://127.0.0.1:4318")).toBe("http://127.0.0.1:4318/v1/traces");
    expect(tracesUrl("https://api.honeycomb.io/v1/traces")).toBe("https://api.honeycomb.io/v1/traces");
    expect(parseOtlpHeaders("x-honeycomb-team=abc%3D,other = 1")).toEqual({ "x-honeycomb-team": "abc=", other: "1" });
  });

  it("a model provider's call carries the attempt's traceparent", async () => {
    const traceparent = traceparentOf(TRACE, spanIdOf("run_x", attemptSpan("a", 1)));
    let sent: string | null = null;
    await openAiCompatible("http://model.test/v1", undefined, "m", async (_url, init) => {
      sent = new Headers(init?.headers).get("traceparent");
      return Response.json({
        choices: [{ message: { content: "ok" } }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      });
    }).complete({ prompt: "hi", maxTokens: 5, signal: new AbortController().signal, traceparent });
    expect(sent).toBe(traceparent);
  });
});
