/** /v1/admin: tenants, their limits and keys. Behind ADMIN_TOKEN, never a tenant key. */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { MetricsQuery, PlatformMetrics, TenantId } from "../../schema/api";
import { allTenants, directoryShard } from "../control/directory/shards";
import { isProduction, retentionMinSeconds, type Env } from "../env";
import {
  ApiKey,
  CreateKeyBody,
  CreateTenantBody,
  CreatedKey,
  PurgeAudit,
  PurgeProgress,
  PurgeTenantBody,
  RotateKeyBody,
  Tenant,
  UpdateTenantBody,
} from "../../schema/tenants";
import { BudgetPolicy, BudgetReport } from "../../schema/budgets";
import { RetentionPolicy, RetentionSettings, retentionTooShort } from "../../schema/retention";
import { DEV_TENANT } from "../control/tenant/profile";
import { EXTERNAL_POOLS } from "../../schema/pools";
import { KEY_ID } from "../../schema/ids";
import { composeMetrics } from "../control/metrics";
import { AppError } from "../errors";
import { newKeyId } from "../lib/crypto";
import { BREAKER_REGISTRY } from "../../schema/breakers";
import { breakerRoutes } from "./admin-breakers";
import { keyCacheFor } from "./auth";
import { type AppEnv, JSON_BODY, json, newApi, problemResponses, timeWindow, TOKEN_CALL } from "./common";

const security = [{ admin: [] }];
const TenantParam = z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) });
const KeyParam = TenantParam.extend({
  keyId: z
    .string()
    .regex(KEY_ID)
    .openapi({ param: { name: "keyId", in: "path" } }),
});
const TenantWithRuns = Tenant.extend({
  runs: z.object({ running: z.number().int(), waiting: z.number().int() }),
  purge: PurgeProgress.nullable().openapi({ description: "the purge under way, if one is (DELETE)" }),
}).openapi("TenantWithRuns");

export const admin = newApi();
breakerRoutes(admin);

// A change to a tenant's keys, status or limits made through this isolate is seen by its next
// request at once; other isolates see it within KEY_CACHE_MS (src/api/key-cache.ts).
const forgetTenantKeys: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method !== "GET") keyCacheFor(c.env).forgetTenant(c.req.param("id") ?? "");
};
admin.use("/tenants/:id", forgetTenantKeys);
admin.use("/tenants/:id/*", forgetTenantKeys);

admin.openapi(
  createRoute({
    method: "post",
    operationId: "createTenant",
    path: "/tenants",
    summary: "Create a tenant",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreateTenantBody } } } },
    responses: {
      201: json(Tenant, "the tenant"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.reserved", "tenant.exists", "tenant.purging"),
    },
  }),
  async (c) => {
    const { id: chosen, ...body } = c.req.valid("json");
    const id = chosen ?? `t-${newKeyId()}`;
    if (id === DEV_TENANT) throw new AppError("tenant.reserved");
    // Listed first: an entry whose tenant was never created is harmless; a tenant missing from
    // the directory would be missing from platform metrics. A tenant id whose purge is under way
    // is refused: its new object would be deleted with the old one. After the purge it is free.
    if ((await c.env.DIRECTORY.getByName(directoryShard(id)).add(id)) === "purging")
      throw new AppError("tenant.purging", `Tenant '${id}' is being purged; create it again once the purge is done.`);
    const create = () => c.env.TENANT.getByName(id).createTenant(body);
    // A purged tenant's object, still in memory, resets itself on this call: the retry reaches a new one.
    const tenant = await create().catch(create);
    if (!tenant) throw new AppError("tenant.exists", `Tenant '${id}' already exists.`);
    c.header("location", `/v1/admin/tenants/${id}`);
    return c.json(tenant, 201);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "getTenant",
    path: "/tenants/{id}",
    summary: "A tenant, with its running and waiting runs",
    security,
    request: { params: TenantParam },
    responses: { 200: json(TenantWithRuns, "the tenant"), ...problemResponses(...TOKEN_CALL, "tenant.not_found") },
  }),
  async (c) => {
    const tenant = await c.env.TENANT.getByName(c.req.valid("param").id).getTenant();
    if (!tenant) throw new AppError("tenant.not_found");
    return c.json(tenant, 200);
  },
);

admin.openapi(
  createRoute({
    method: "patch",
    operationId: "updateTenant",
    path: "/tenants/{id}",
    summary: "Suspend or reactivate a tenant, change its limits or weight",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: UpdateTenantBody } } },
    },
    responses: {
      200: json(Tenant, "the tenant"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found", "tenant.purging"),
    },
  }),
  async (c) => {
    const tenant = await c.env.TENANT.getByName(c.req.valid("param").id).updateTenant(c.req.valid("json"));
    if (!tenant) throw new AppError("tenant.not_found");
    if (tenant === "purging") throw new AppError("tenant.purging");
    return c.json(tenant, 200);
  },
);

admin.openapi(
  createRoute({
    method: "put",
    operationId: "setTenantBudgets",
    path: "/tenants/{id}/budgets",
    summary: "Set a tenant's monthly cost budgets (tenant-wide and per project), thresholds and what a breach does",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: BudgetPolicy } } },
    },
    responses: {
      200: json(BudgetReport, "the budgets, with this month's spending"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found"),
    },
  }),
  async (c) => {
    const report = await c.env.TENANT.getByName(c.req.valid("param").id).setBudgets(c.req.valid("json"));
    if (!report) throw new AppError("tenant.not_found");
    return c.json(report, 200);
  },
);

admin.openapi(
  createRoute({
    method: "put",
    operationId: "setTenantRetention",
    path: "/tenants/{id}/retention",
    summary:
      "Set a tenant's retention policy: how long finished runs stay hot, archives and artifacts are kept (per project overrides)",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: RetentionPolicy } } },
    },
    responses: {
      200: json(RetentionSettings, "the policy in force"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found", "tenant.purging"),
    },
  }),
  async (c) => {
    const policy = c.req.valid("json");
    const minSeconds = retentionMinSeconds(c.env);
    // Below the deployment's minimum: refused whole, nothing changed.
    const errors = retentionTooShort(policy, minSeconds);
    if (errors.length > 0)
      throw new AppError("request.invalid", `Retention periods must be at least ${minSeconds} seconds.`, { errors });
    const settings = await c.env.TENANT.getByName(c.req.valid("param").id).setRetention(policy, minSeconds);
    if (!settings) throw new AppError("tenant.not_found");
    if (settings === "purging") throw new AppError("tenant.purging");
    return c.json(settings, 200);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "getTenantRetention",
    path: "/tenants/{id}/retention",
    summary: "A tenant's retention policy in force",
    security,
    request: { params: TenantParam },
    responses: {
      200: json(RetentionSettings, "the policy in force"),
      ...problemResponses(...TOKEN_CALL, "tenant.not_found"),
    },
  }),
  async (c) => {
    const settings = await c.env.TENANT.getByName(c.req.valid("param").id).retentionSettings(
      retentionMinSeconds(c.env),
    );
    if (!settings) throw new AppError("tenant.not_found");
    return c.json(settings, 200);
  },
);

admin.openapi(
  createRoute({
    method: "delete",
    operationId: "purgeTenant",
    path: "/tenants/{id}",
    summary:
      "Purge a tenant: suspended at once (its keys are refused), then its runs, artifacts, webhooks, keys and object are deleted in the background",
    security,
    request: {
      params: TenantParam,
      body: { required: true, content: { "application/json": { schema: PurgeTenantBody } } },
    },
    responses: {
      202: json(PurgeProgress, "the purge, under way (progress at GET /v1/admin/tenants/{id})"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found", "tenant.reserved"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (id === DEV_TENANT) throw new AppError("tenant.reserved", "The local development tenant cannot be purged.");
    const { reason, requestedBy } = c.req.valid("json");
    const progress = await c.env.TENANT.getByName(id).requestPurge(reason, requestedBy);
    if (!progress) throw new AppError("tenant.not_found");
    // The audit record outlives the tenant's object; the tenant leaves the directory's list now.
    await c.env.DIRECTORY.getByName(directoryShard(id)).purgeStarted(id, {
      reason: progress.reason,
      requestedBy: progress.requestedBy,
      requestedAt: Date.parse(progress.requestedAt),
    });
    return c.json(progress, 202);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "listTenantPurges",
    path: "/tenants/{id}/purges",
    summary: "Audit records of a tenant id's purges (kept after the tenant is gone), newest first",
    security,
    request: { params: TenantParam },
    responses: {
      200: json(z.object({ items: z.array(PurgeAudit) }).openapi("PurgeAuditList"), "purges"),
      ...problemResponses(...TOKEN_CALL),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json({ items: await c.env.DIRECTORY.getByName(directoryShard(id)).purges(id) }, 200);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    operationId: "createApiKey",
    path: "/tenants/{id}/keys",
    summary: "Create an API key; the key is shown once",
    security,
    request: {
      params: TenantParam,
      body: { required: false, content: { "application/json": { schema: CreateKeyBody } } },
    },
    responses: {
      201: json(CreatedKey, "the new key"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "tenant.not_found", "tenant.purging"),
    },
  }),
  async (c) => {
    const body = (c.req.valid("json") as CreateKeyBody | undefined) ?? {};
    const key = await c.env.TENANT.getByName(c.req.valid("param").id).createKey(body);
    if (!key) throw new AppError("tenant.not_found");
    if (key === "purging") throw new AppError("tenant.purging");
    return c.json(key, 201);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "listApiKeys",
    path: "/tenants/{id}/keys",
    summary: "A tenant's keys (never the keys themselves)",
    security,
    request: { params: TenantParam },
    responses: {
      200: json(z.object({ items: z.array(ApiKey) }), "keys"),
      ...problemResponses(...TOKEN_CALL, "tenant.not_found"),
    },
  }),
  async (c) => {
    const items = await c.env.TENANT.getByName(c.req.valid("param").id).listKeys();
    if (!items) throw new AppError("tenant.not_found");
    return c.json({ items }, 200);
  },
);

admin.openapi(
  createRoute({
    method: "delete",
    operationId: "revokeApiKey",
    path: "/tenants/{id}/keys/{keyId}",
    summary: "Revoke a key at once",
    security,
    request: { params: KeyParam },
    responses: { 204: { description: "revoked" }, ...problemResponses(...TOKEN_CALL, "key.not_found") },
  }),
  async (c) => {
    const { id, keyId } = c.req.valid("param");
    if (!(await c.env.TENANT.getByName(id).revokeKey(keyId))) throw new AppError("key.not_found");
    return c.body(null, 204);
  },
);

admin.openapi(
  createRoute({
    method: "post",
    operationId: "rotateApiKey",
    path: "/tenants/{id}/keys/{keyId}/rotate",
    summary: "Replace a key: a new one with the same scopes; the old one lasts `overlapMs` more",
    security,
    request: {
      params: KeyParam,
      body: { required: false, content: { "application/json": { schema: RotateKeyBody } } },
    },
    responses: {
      201: json(CreatedKey, "the new key"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY, "key.not_found"),
    },
  }),
  async (c) => {
    const { id, keyId } = c.req.valid("param");
    const overlapMs = (c.req.valid("json") as { overlapMs?: number } | undefined)?.overlapMs ?? 0;
    const key = await c.env.TENANT.getByName(id).rotateKey(keyId, overlapMs);
    if (!key) throw new AppError("key.not_found");
    return c.json(key, 201);
  },
);

const PoolParam = z.object({ pool: z.enum(EXTERNAL_POOLS).openapi({ param: { name: "pool", in: "path" } }) });

admin.openapi(
  createRoute({
    method: "post",
    operationId: "createWorkerToken",
    path: "/pools/{pool}/tokens",
    summary: "Create a worker token for an external pool; shown once",
    security,
    request: { params: PoolParam },
    responses: {
      201: json(z.object({ id: z.string(), token: z.string() }), "the token"),
      ...problemResponses(...TOKEN_CALL, ...JSON_BODY),
    },
  }),
  async (c) => {
    const { pool } = c.req.valid("param");
    return c.json(await c.env.POOL.getByName(pool).createToken(pool), 201);
  },
);

admin.openapi(
  createRoute({
    method: "delete",
    operationId: "revokeWorkerToken",
    path: "/pools/{pool}/tokens/{tokenId}",
    summary: "Revoke a worker token",
    security,
    request: {
      params: PoolParam.extend({
        tokenId: z
          .string()
          .regex(KEY_ID)
          .openapi({ param: { name: "tokenId", in: "path" } }),
      }),
    },
    responses: { 204: { description: "revoked" }, ...problemResponses(...TOKEN_CALL, "token.not_found") },
  }),
  async (c) => {
    const { pool, tokenId } = c.req.valid("param");
    if (!(await c.env.POOL.getByName(pool).revokeToken(tokenId))) throw new AppError("token.not_found");
    return c.body(null, 204);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "getPoolBacklog",
    path: "/pools/{pool}",
    summary: "An external pool's backlog: steps waiting and the age of the oldest (for autoscalers)",
    security,
    request: { params: PoolParam },
    responses: {
      200: json(
        z.object({ pool: z.string(), waiting: z.number().int(), oldestAgeMs: z.number().int().nullable() }),
        "the backlog",
      ),
      ...problemResponses(...TOKEN_CALL),
    },
  }),
  async (c) => {
    const { pool } = c.req.valid("param");
    return c.json({ pool, ...(await c.env.POOL.getByName(pool).backlog()) }, 200);
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "getPlatformMetrics",
    path: "/metrics",
    summary: "Platform-wide SLA, backlog and webhook metrics: every tenant's, combined",
    security,
    request: { query: MetricsQuery },
    responses: { 200: json(PlatformMetrics, "metrics"), ...problemResponses(...TOKEN_CALL) },
  }),
  async (c) => {
    const { from, to } = timeWindow(c.req.valid("query"));
    const tenants = await platformTenants(c.env);
    const parts = await Promise.all(tenants.map((t) => c.env.TENANT.getByName(t).metricParts(from, to)));
    const externalPools = Object.fromEntries(
      await Promise.all(EXTERNAL_POOLS.map(async (p) => [p, await c.env.POOL.getByName(p).backlog()] as const)),
    );
    const breakers = await c.env.BREAKER.getByName(BREAKER_REGISTRY).list();
    return c.json(
      {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        tenants: tenants.length,
        ...composeMetrics(parts),
        externalPools,
        breakers,
      },
      200,
    );
  },
);

admin.openapi(
  createRoute({
    method: "get",
    operationId: "listTenants",
    path: "/tenants",
    summary: "Every tenant's id",
    security,
    responses: { 200: json(z.object({ items: z.array(TenantId) }), "tenant ids"), ...problemResponses(...TOKEN_CALL) },
  }),
  async (c) => c.json({ items: await platformTenants(c.env) }, 200),
);

/** The directory's tenants, with the local development tenant outside production. */
async function platformTenants(env: Env): Promise<string[]> {
  const listed = await allTenants(env);
  return isProduction(env) || listed.includes(DEV_TENANT) ? listed : [...listed, DEV_TENANT].sort();
}
