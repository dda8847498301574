/** /v1/webhooks: a tenant's endpoints, their signing secrets, delivery log and replays. */
import { createRoute, z } from "@hono/zod-openapi";
import {
  CreateWebhookBody,
  Delivery,
  DeliveryQuery,
  ReplayBody,
  RotateSecretBody,
  UpdateWebhookBody,
  WebhookEndpoint,
  WebhookWithSecret,
} from "../../schema/webhooks";
import type { Env } from "../env";
import { AppError } from "../errors";
import { urlGuard } from "../outbound/guard";
import { guardUrl } from "../outbound/guard";
import { WEBHOOK_ID } from "../../schema/ids";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

function endpointId(id: string): string {
  if (!WEBHOOK_ID.test(id)) throw new AppError("webhook.not_found");
  return id;
}

/**
 * Refuses an outbound URL the SSRF guard does not allow (or cannot resolve), as a 400 naming
 * the field; otherwise returns its canonical form, which is what gets stored and called.
 */
export async function checkUrl(env: Env, url: string, field = "url"): Promise<string> {
  const check = await guardUrl(url, urlGuard(env));
  if (!check.ok)
    throw new AppError("request.invalid", `The webhook URL is refused: ${check.reason}.`, {
      errors: [{ path: field, message: check.reason }],
    });
  return check.url.href;
}

const found = <T>(value: T | null): T => {
  if (value === null) throw new AppError("webhook.not_found");
  return value;
};

/**
 * Decision links decide gates: an endpoint may receive them only when a key that could decide
 * (approvals:grant) asked for it. Any webhooks:manage key may still turn them off.
 */
function mayFlagLinks(scopes: readonly string[], includeDecisionLinks: boolean | undefined): void {
  if (includeDecisionLinks === true && !scopes.includes("approvals:grant"))
    throw new AppError(
      "auth.insufficient_scope",
      "Only a key holding 'approvals:grant' may set includeDecisionLinks: the links decide approval gates.",
    );
}

export const webhooks = newApi();

webhooks.openapi(
  createRoute({
    method: "post",
    operationId: "createWebhook",
    path: "/",
    summary: "Register an endpoint; its signing secret is shown once",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreateWebhookBody } } } },
    responses: {
      201: json(WebhookWithSecret, "the endpoint and its secret"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    mayFlagLinks(c.get("key").scopes, body.includeDecisionLinks);
    const url = await checkUrl(c.env, body.url);
    const { endpoint, secret } = await c.env.TENANT.getByName(c.get("tenantId")).createWebhook(
      { ...body, url },
      null,
      c.get("key").keyId,
    );
    c.header("location", `/v1/webhooks/${endpoint.id}`);
    return c.json({ ...endpoint, secret }, 201);
  },
);

webhooks.openapi(
  createRoute({
    method: "get",
    operationId: "listWebhooks",
    path: "/",
    summary: "The tenant's endpoints",
    security,
    responses: {
      200: json(z.object({ items: z.array(WebhookEndpoint) }), "endpoints"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => c.json({ items: await c.env.TENANT.getByName(c.get("tenantId")).listWebhooks() }, 200),
);

webhooks.openapi(
  createRoute({
    method: "get",
    operationId: "getWebhook",
    path: "/{id}",
    summary: "One endpoint",
    security,
    request: { params: IdParam },
    responses: { 200: json(WebhookEndpoint, "the endpoint"), ...problemResponses(...TENANT_CALL, "webhook.not_found") },
  }),
  async (c) =>
    c.json(found(await c.env.TENANT.getByName(c.get("tenantId")).getWebhook(endpointId(c.req.valid("param").id))), 200),
);

webhooks.openapi(
  createRoute({
    method: "patch",
    operationId: "updateWebhook",
    path: "/{id}",
    summary: "Change an endpoint; `enabled: true` re-enables one disabled after failures",
    security,
    request: {
      params: IdParam,
      body: { required: true, content: { "application/json": { schema: UpdateWebhookBody } } },
    },
    responses: {
      200: json(WebhookEndpoint, "the endpoint"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "webhook.not_found"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    mayFlagLinks(c.get("key").scopes, body.includeDecisionLinks);
    const patch = body.url === undefined ? body : { ...body, url: await checkUrl(c.env, body.url) };
    const tenant = c.env.TENANT.getByName(c.get("tenantId"));
    return c.json(
      found(await tenant.updateWebhook(endpointId(c.req.valid("param").id), patch, c.get("key").keyId)),
      200,
    );
  },
);

webhooks.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteWebhook",
    path: "/{id}",
    summary: "Remove an endpoint and its delivery log",
    security,
    request: { params: IdParam },
    responses: { 204: { description: "removed" }, ...problemResponses(...TENANT_CALL, "webhook.not_found") },
  }),
  async (c) => {
    if (!(await c.env.TENANT.getByName(c.get("tenantId")).deleteWebhook(endpointId(c.req.valid("param").id))))
      throw new AppError("webhook.not_found");
    return c.body(null, 204);
  },
);

webhooks.openapi(
  createRoute({
    method: "post",
    operationId: "rotateWebhookSecret",
    path: "/{id}/rotate-secret",
    summary: "A new signing secret; the old one also signs until the overlap ends",
    security,
    request: {
      params: IdParam,
      body: { required: false, content: { "application/json": { schema: RotateSecretBody } } },
    },
    responses: {
      200: json(WebhookWithSecret, "the endpoint and its new secret"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "webhook.not_found"),
    },
  }),
  async (c) => {
    const overlapMs = (c.req.valid("json") as { overlapMs?: number } | undefined)?.overlapMs ?? 86_400_000;
    const rotated = found(
      await c.env.TENANT.getByName(c.get("tenantId")).rotateWebhookSecret(
        endpointId(c.req.valid("param").id),
        overlapMs,
      ),
    );
    return c.json({ ...rotated.endpoint, secret: rotated.secret }, 200);
  },
);

webhooks.openapi(
  createRoute({
    method: "get",
    operationId: "listWebhookDeliveries",
    path: "/{id}/deliveries",
    summary: "Delivery attempts, newest first: status code, latency, response excerpt, error",
    security,
    request: { params: IdParam, query: DeliveryQuery },
    responses: {
      200: json(z.object({ items: z.array(Delivery) }), "deliveries"),
      ...problemResponses(...TENANT_CALL, "webhook.not_found"),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const items = found(
      await c.env.TENANT.getByName(c.get("tenantId")).webhookDeliveries(endpointId(c.req.valid("param").id), {
        limit: q.limit,
        ...(q.status ? { status: q.status } : {}),
        ...(q.eventId ? { eventId: q.eventId } : {}),
      }),
    );
    return c.json({ items }, 200);
  },
);

const Replayed = z.object({ replayed: z.array(z.string()) }).openapi("Replayed");

webhooks.openapi(
  createRoute({
    method: "post",
    operationId: "replayWebhookDelivery",
    path: "/{id}/deliveries/{deliveryId}/replay",
    summary: "Send one delivery again",
    security,
    request: {
      params: IdParam.extend({
        deliveryId: z
          .string()
          .max(64)
          .openapi({ param: { name: "deliveryId", in: "path" } }),
      }),
    },
    responses: {
      202: json(Replayed, "queued"),
      ...problemResponses(...TENANT_CALL, "webhook.not_found", "delivery.not_found"),
    },
  }),
  async (c) => {
    const { id, deliveryId } = c.req.valid("param");
    const replayed = found(
      await c.env.TENANT.getByName(c.get("tenantId")).replayWebhook(endpointId(id), { deliveryId }),
    );
    if (replayed.length === 0) throw new AppError("delivery.not_found");
    return c.json({ replayed }, 202);
  },
);

webhooks.openapi(
  createRoute({
    method: "post",
    operationId: "replayFailedWebhookDeliveries",
    path: "/{id}/replay",
    summary: "Send again every failed delivery created since a time",
    security,
    request: { params: IdParam, body: { required: true, content: { "application/json": { schema: ReplayBody } } } },
    responses: {
      202: json(Replayed, "queued"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "webhook.not_found"),
    },
  }),
  async (c) => {
    const since = Date.parse(c.req.valid("json").since);
    const replayed = found(
      await c.env.TENANT.getByName(c.get("tenantId")).replayWebhook(endpointId(c.req.valid("param").id), {
        failedSince: since,
      }),
    );
    return c.json({ replayed }, 202);
  },
);
