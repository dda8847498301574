/** Contracts of a tenant's own OpenTelemetry collector (docs/telemetry.md, `PUT /v1/telemetry`). */
import { z } from "@hono/zod-openapi";
import { SecretRef } from "./secrets";

/** An HTTP header's name (RFC 9110 token), lowercase as it is sent. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

/** Headers a collector may be given: each value a reference to a tenant secret, never a value. */
export const MAX_COLLECTOR_HEADERS = 8;

export const PutTelemetryBody = z
  .object({
    endpoint: z.string().url().max(2048).openapi({
      description: "the collector's OTLP/HTTP base URL (`/v1/traces` is appended unless it is named)",
      example: "https://api.honeycomb.io",
    }),
    headers: z
      .record(z.string().toLowerCase().regex(HEADER_NAME, "an HTTP header name"), SecretRef)
      .refine((h) => Object.keys(h).length <= MAX_COLLECTOR_HEADERS, {
        message: `at most ${MAX_COLLECTOR_HEADERS} headers`,
      })
      .default({})
      .openapi({ example: { "x-honeycomb-team": { $secret: "honeycomb-key" } } }),
  })
  .strict()
  .openapi("PutTelemetryBody");
export type PutTelemetryBody = z.infer<typeof PutTelemetryBody>;
/** What a caller sends (`headers` may be left out). */
export type PutTelemetryInput = z.input<typeof PutTelemetryBody>;

export const TelemetryView = z
  .object({
    endpoint: z.string(),
    headers: z.record(z.string(), SecretRef).openapi({ description: "references, never the secrets' values" }),
    updatedAt: z.string(),
  })
  .openapi("TelemetryCollector");
export type TelemetryView = z.infer<typeof TelemetryView>;

/** What the exporter needs: the endpoint and, per header, the name of the secret holding its value. */
export interface CollectorConfig {
  endpoint: string;
  headers: Record<string, string>;
  updatedAt: number;
}
