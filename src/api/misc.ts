/** Small resources: health, blueprints, and the admin routes that exist so far. */
import { createRoute, z } from "@hono/zod-openapi";
import { BlueprintList, CreateKeyBody, CreatedKey, TenantId } from "../../schema/api";
import { describeBlueprints } from "../blueprints";
import { problems } from "../errors";
import { newApi, problemResponses } from "./common";

export const health = newApi().openapi(
  createRoute({
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    responses: { 200: { description: "alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

export const blueprints = newApi().openapi(
  createRoute({
    method: "get",
    path: "/",
    summary: "The blueprints a run can name",
    security: [{ bearer: [] }],
    responses: { 200: { description: "blueprints", content: { "application/json": { schema: BlueprintList } } }, ...problemResponses(401) },
  }),
  (c) => c.json({ items: describeBlueprints() }, 200),
);

export const admin = newApi().openapi(
  createRoute({
    method: "post",
    path: "/tenants/{id}/keys",
    summary: "Create an API key for a tenant; the key is shown once",
    security: [{ admin: [] }],
    request: {
      params: z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) }),
      body: { required: false, content: { "application/json": { schema: CreateKeyBody } } },
    },
    responses: { 201: { description: "the new key", content: { "application/json": { schema: CreatedKey } } }, ...problemResponses(400, 401) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (id === "dev") throw problems.conflict("tenant.reserved", "Tenant 'dev' is the local development tenant.");
    const body = c.req.valid("json") as { name?: string } | undefined;
    const key = await c.env.TENANT.getByName(id).createKey(id, body?.name ?? null);
    return c.json({ id: key.id, tenantId: id, key: key.key, createdAt: new Date(key.createdAt).toISOString() }, 201);
  },
);
