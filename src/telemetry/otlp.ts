/**
 * OTLP/HTTP protobuf export of a run's spans (docs/telemetry.md). The wire format is the
 * OpenTelemetry JS serializer's (`@opentelemetry/otlp-transformer`), not ours: spans built from a
 * run's records (src/control/run/spans.ts) are handed to it as the SDK's readable spans.
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { SpanRecord } from "../control/run/spans";

type ReadableSpan = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0][number];

const RESOURCE = resourceFromAttributes({ "service.name": "factory-runtime" });
const SCOPE = { name: "factory-runtime", version: "1" };

const KIND = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

const hrTime = (ms: number): [number, number] => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

function readable(s: SpanRecord): ReadableSpan {
  const context = { traceId: s.traceId, spanId: s.spanId, traceFlags: 1 };
  return {
    name: s.name,
    kind: KIND[s.kind ?? (s.name === "factory.run.execute" ? "server" : "internal")],
    spanContext: () => context,
    ...(s.parentSpanId ? { parentSpanContext: { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1 } } : {}),
    startTime: hrTime(s.startMs),
    endTime: hrTime(s.endMs),
    duration: hrTime(s.endMs - s.startMs),
    status: s.error ? { code: SpanStatusCode.ERROR, message: s.error } : { code: SpanStatusCode.UNSET },
    attributes: s.attributes,
    links: [],
    events: [],
    ended: true,
    resource: RESOURCE,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** An ExportTraceServiceRequest in protobuf. */
export function encodeSpans(spans: readonly SpanRecord[]): Uint8Array {
  const body = ProtobufTraceSerializer.serializeRequest(spans.map(readable));
  if (!body) throw new Error("the OTLP serializer produced nothing");
  return body;
}

/** The traces URL of an OTLP/HTTP endpoint (its base, as OTEL_EXPORTER_OTLP_ENDPOINT names it). */
export function tracesUrl(endpoint: string): string {
  return endpoint.endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

/** `name=value,name=value` (OTEL_EXPORTER_OTLP_HEADERS' form) as headers. */
export function parseOtlpHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

/** Sends one export; throws on a network failure or an answer other than 2xx (the caller retries). */
export async function postSpans(
  endpoint: string,
  headers: Record<string, string>,
  spans: readonly SpanRecord[],
  timeoutMs = 10_000,
): Promise<void> {
  const res = await fetch(tracesUrl(endpoint), {
    method: "POST",
    headers: { ...headers, "content-type": "application/x-protobuf" },
    body: encodeSpans(spans),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`OTLP export answered ${res.status}`);
}
