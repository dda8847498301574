/**
 * /v1/pools (tenant keys): a tenant's own worker pools, their worker tokens and their workers
 * (issue 27). The registry is the tenant's Workers object; each pool's queue, tokens, leases and
 * workers are its own Pool object, named `<tenant>:<pool>`, so no object is shared by tenants.
 * Changes and tokens need `workers:manage`; reading pools and workers `runs:read` (./auth.ts).
 * The lease routes under the same prefix take worker tokens instead (./workers.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_LIMITS } from "../../schema/tenants";
import { CreatePoolBody, PoolDetail, PoolView, TokenView, WORKER_LIMITS, WorkerView } from "../../schema/workers";
import type { Env } from "../env";
import type { WorkersObject } from "../control/workers/object";
import { AppError } from "../errors";
import { KEY_ID } from "../../schema/ids";
import { JSON_BODY, json, newApi, problemResponses, TENANT_CALL } from "./common";

const security = [{ bearer: [] }];
const PoolParam = z.object({
  pool: z
    .string()
    .max(40)
    .openapi({ param: { name: "pool", in: "path" }, example: "gpu" }),
});

/**
 * The tenant's registry of pools and job types, typed with the class's own signatures: the RPC
 * mapping of JSON Schemas (`Record<string, unknown>`) would not survive it.
 */
export const registryOf = (env: Env, tenantId: string): RegistryStub =>
  env.WORKERS.getByName(tenantId) as unknown as RegistryStub;
type RegistryStub = Pick<
  WorkersObject,
  "createPool" | "listPools" | "pool" | "deletePool" | "putJobType" | "listJobTypes" | "jobTypeVersions" | "current"
>;
/** A tenant pool's own object: the tenant is in its name. */
export const tenantPool = (env: Env, tenantId: string, pool: string) => env.POOL.getByName(`${tenantId}:${pool}`);

/** The pool, or 404: a pool of another tenant is simply not there. */
async function existing(env: Env, tenantId: string, pool: string): Promise<PoolView> {
  const found = await registryOf(env, tenantId).pool(pool);
  if (!found) throw new AppError("pool.not_found", `The tenant has no pool named '${pool}'.`);
  return found;
}

export const pools = newApi();

pools.openapi(
  createRoute({
    method: "post",
    operationId: "createPool",
    path: "/",
    summary: "Create one of the tenant's own worker pools",
    security,
    request: { body: { required: true, content: { "application/json": { schema: CreatePoolBody } } } },
    responses: {
      201: json(PoolView, "created"),
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "pool.exists", "pool.limit"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const body = c.req.valid("json");
    const tenant = await c.env.TENANT.getByName(tenantId).getTenant();
    const made = await registryOf(c.env, tenantId).createPool(body);
    if ("code" in made) throw AppError.from(made);
    await tenantPool(c.env, tenantId, body.name).configure({
      tenantId,
      pool: body.name,
      unroutableAfterMs: (tenant?.limits ?? DEFAULT_LIMITS).unroutableAfterMs ?? WORKER_LIMITS.unroutableAfterMs,
    });
    return c.json(made, 201);
  },
);

pools.openapi(
  createRoute({
    method: "get",
    operationId: "listPools",
    path: "/",
    summary: "The tenant's own worker pools",
    security,
    responses: {
      200: json(z.object({ items: z.array(PoolView) }), "pools"),
      ...problemResponses(...TENANT_CALL),
    },
  }),
  async (c) => c.json({ items: await registryOf(c.env, c.get("tenantId")).listPools() }, 200),
);

pools.openapi(
  createRoute({
    method: "get",
    operationId: "getPool",
    path: "/{pool}",
    summary: "One of the tenant's pools, with its backlog (steps waiting, the oldest's age)",
    security,
    request: { params: PoolParam },
    responses: {
      200: json(PoolDetail, "the pool"),
      ...problemResponses(...TENANT_CALL, "pool.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool } = c.req.valid("param");
    const view = await existing(c.env, tenantId, pool);
    return c.json({ ...view, ...(await tenantPool(c.env, tenantId, pool).backlog()) }, 200);
  },
);

pools.openapi(
  createRoute({
    method: "delete",
    operationId: "deletePool",
    path: "/{pool}",
    summary: "Delete a pool no job type routes to; its tokens stop working",
    security,
    request: { params: PoolParam },
    responses: {
      204: { description: "deleted" },
      ...problemResponses(...TENANT_CALL, "pool.not_found", "pool.in_use"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool } = c.req.valid("param");
    const deleted = await registryOf(c.env, tenantId).deletePool(pool);
    if ("code" in deleted) throw AppError.from(deleted);
    await tenantPool(c.env, tenantId, pool).close();
    return c.body(null, 204);
  },
);

pools.openapi(
  createRoute({
    method: "post",
    operationId: "createPoolToken",
    path: "/{pool}/tokens",
    summary: "Create a worker token for the pool; shown once",
    security,
    request: { params: PoolParam },
    responses: {
      201: json(z.object({ id: z.string(), token: z.string() }), "created; the token is never shown again"),
      ...problemResponses(...TENANT_CALL, "pool.not_found", "pool.limit"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool } = c.req.valid("param");
    await existing(c.env, tenantId, pool);
    const stub = tenantPool(c.env, tenantId, pool);
    if ((await stub.liveTokens()) >= WORKER_LIMITS.tokens)
      throw new AppError("pool.limit", `A pool has at most ${WORKER_LIMITS.tokens} live tokens: revoke one first.`);
    return c.json(await stub.createToken(pool), 201);
  },
);

pools.openapi(
  createRoute({
    method: "get",
    operationId: "listPoolTokens",
    path: "/{pool}/tokens",
    summary: "The pool's worker tokens: ids and times, never the secrets",
    security,
    request: { params: PoolParam },
    responses: {
      200: json(z.object({ items: z.array(TokenView) }), "tokens"),
      ...problemResponses(...TENANT_CALL, "pool.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool } = c.req.valid("param");
    await existing(c.env, tenantId, pool);
    return c.json({ items: await tenantPool(c.env, tenantId, pool).listTokens() }, 200);
  },
);

pools.openapi(
  createRoute({
    method: "delete",
    operationId: "revokePoolToken",
    path: "/{pool}/tokens/{tokenId}",
    summary: "Revoke a worker token of the pool",
    security,
    request: {
      params: PoolParam.extend({
        tokenId: z
          .string()
          .max(40)
          .openapi({ param: { name: "tokenId", in: "path" } }),
      }),
    },
    responses: {
      204: { description: "revoked" },
      ...problemResponses(...TENANT_CALL, "pool.not_found", "token.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool, tokenId } = c.req.valid("param");
    await existing(c.env, tenantId, pool);
    if (!KEY_ID.test(tokenId) || !(await tenantPool(c.env, tenantId, pool).revokeToken(tokenId)))
      throw new AppError("token.not_found");
    return c.body(null, 204);
  },
);

pools.openapi(
  createRoute({
    method: "get",
    operationId: "listPoolWorkers",
    path: "/{pool}/workers",
    summary: "The pool's workers: labels, kinds, last seen, in flight, completed, failed",
    security,
    request: { params: PoolParam },
    responses: {
      200: json(z.object({ items: z.array(WorkerView) }), "workers, most recently seen first"),
      ...problemResponses(...TENANT_CALL, "pool.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const { pool } = c.req.valid("param");
    await existing(c.env, tenantId, pool);
    return c.json({ items: await tenantPool(c.env, tenantId, pool).workers() }, 200);
  },
);
