/**
 * Encodes Analytics Engine data points from named values, in the column order that
 * schema/analytics/points.ts documents, and writes them. Writing is fire-and-forget (the
 * platform batches it) and must never fail the caller: analytics is best effort, while billing
 * and the API read the recorded state.
 */
import { logError } from "../lib/log";
import { LIMITS, POINTS, type PointKind, type PointValues } from "../../schema/analytics/points";

/** Long ids and messages are cut so that a point always fits the platform's limits. */
const MAX_BLOB_BYTES = 512;

export function encodePoint<K extends PointKind>(
  kind: K,
  tenantId: string,
  values: PointValues<K>,
): AnalyticsEngineDataPoint {
  const schema = POINTS[kind];
  const named = values as unknown as Record<string, string | number>;
  return {
    indexes: [cut(tenantId, LIMITS.indexBytes)],
    blobs: schema.blobs.map((b) => (b.name === "kind" ? kind : cut(String(named[b.name] ?? ""), MAX_BLOB_BYTES))),
    doubles: schema.doubles.map((d) => {
      const v = Number(named[d.name]);
      return Number.isFinite(v) ? v : 0;
    }),
  };
}

export function writePoints(
  dataset: AnalyticsEngineDataset | undefined,
  points: readonly AnalyticsEngineDataPoint[],
): void {
  if (!dataset) return;
  for (const point of points) {
    try {
      dataset.writeDataPoint(point);
    } catch (err) {
      logError("analytics.write_failed", { error: String(err) });
      return;
    }
  }
}

/** Cuts a string to at most `bytes` UTF-8 bytes, on a character boundary. */
function cut(s: string, bytes: number): string {
  const encoded = new TextEncoder().encode(s);
  if (encoded.byteLength <= bytes) return s;
  return new TextDecoder().decode(encoded.slice(0, bytes)).replace(/\uFFFD+$/, "");
}

/** A webhook delivery attempt, once recorded by the tenant's object. */
export function webhookPoint(
  tenantId: string,
  recorded: { endpointId: string; eventType: string; attempt: number; outcome: string },
  result: { statusCode: number | null; latencyMs: number; error: string | null },
): AnalyticsEngineDataPoint {
  const statusClass =
    result.statusCode !== null
      ? `${Math.floor(result.statusCode / 100)}xx`
      : result.error?.startsWith("refused URL")
        ? "ssrf"
        : "network";
  return encodePoint("webhook", tenantId, {
    endpointId: recorded.endpointId,
    eventType: recorded.eventType,
    outcome: recorded.outcome,
    statusClass,
    attempt: recorded.attempt,
    latencyMs: result.latencyMs,
    httpStatus: result.statusCode ?? 0,
  });
}
