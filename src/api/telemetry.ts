/**
 * /v1/telemetry: the tenant's own OTLP/HTTP collector (docs/telemetry.md). Runs created while it
 * is set send their spans there as well as to the deployment's collector. Its headers are
 * references to the tenant's secrets (`{ "$secret": name }`), shown as references, never as
 * values. Scope `webhooks:manage` (./auth.ts): a collector is an outbound destination with
 * secret headers, as a webhook endpoint is. Kept in the tenant's Secrets object
 * (src/control/secrets/collector.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import type { CollectorConfig } from "../../schema/telemetry";
import { PutTelemetryBody, TelemetryView } from "../../schema/telemetry";
import { collectorChanged } from "../control/telemetry/collectors";
import type { Env } from "../env";
import { AppError } from "../errors";
import { guardUrl, urlGuard } from "../outbound/guard";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];

const secretsOf = (env: Env, tenantId: string) => env.SECRETS.getByName(tenantId);

const view = (c: CollectorConfig): TelemetryView => ({
  endpoint: c.endpoint,
  headers: Object.fromEntries(Object.entries(c.headers).map(([h, name]) => [h, { $secret: name }])),
  updatedAt: new Date(c.updatedAt).toISOString(),
});

export const telemetry = newApi();

telemetry.openapi(
  createRoute({
    method: "put",
    operationId: "putTelemetry",
    path: "/",
    summary: "Send the tenant's runs' spans to its own OTLP/HTTP collector too",
    security,
    request: { body: { required: true, content: { "application/json": { schema: PutTelemetryBody } } } },
    responses: {
      200: json(TelemetryView, "the collector"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "telemetry.endpoint_forbidden", "secret.not_found"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = c.get("tenantId");
    const check = await guardUrl(body.endpoint, urlGuard(c.env));
    if (!check.ok)
      throw new AppError("telemetry.endpoint_forbidden", `The collector's endpoint is refused: ${check.reason}.`, {
        errors: [{ path: "endpoint", message: check.reason }],
      });
    const headers = Object.fromEntries(Object.entries(body.headers).map(([h, ref]) => [h, ref.$secret]));
    const stub = secretsOf(c.env, tenantId);
    const names = [...new Set(Object.values(headers))];
    const missing = names.length > 0 ? await stub.missing(names) : [];
    if (missing.length > 0)
      throw new AppError("secret.not_found", `No secret named ${missing.map((n) => `'${n}'`).join(", ")}.`, {
        errors: missing.map((n) => ({ path: "headers", message: `no secret '${n}'` })),
      });
    const saved = await stub.setCollector(check.url.href, headers);
    collectorChanged(tenantId, true);
    return c.json(view(saved), 200);
  },
);

telemetry.openapi(
  createRoute({
    method: "get",
    operationId: "getTelemetry",
    path: "/",
    summary: "The tenant's collector: its endpoint and its headers' secret references",
    security,
    responses: {
      200: json(TelemetryView, "the collector"),
      ...problemResponses(...TENANT_CALL, "telemetry.not_configured"),
    },
  }),
  async (c) => {
    const found = await secretsOf(c.env, c.get("tenantId")).getCollector();
    if (!found) throw new AppError("telemetry.not_configured");
    return c.json(view(found), 200);
  },
);

telemetry.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteTelemetry",
    path: "/",
    summary: "Stop sending spans to the tenant's collector (the deployment's is unaffected)",
    security,
    responses: { 204: { description: "removed" }, ...problemResponses(...TENANT_CALL, "telemetry.not_configured") },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    if (!(await secretsOf(c.env, tenantId).removeCollector())) throw new AppError("telemetry.not_configured");
    collectorChanged(tenantId, false);
    return c.body(null, 204);
  },
);
