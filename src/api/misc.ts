/** Small resources: health, blueprints, usage. */
import { createRoute, z } from "@hono/zod-openapi";
import { BlueprintList, UsageQuery, UsageReport } from "../../schema/api";
import { describeBlueprints } from "../blueprints";
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

export const usage = newApi().openapi(
  createRoute({
    method: "get",
    path: "/",
    summary: "What the tenant's finished runs used, by project or by day, from recorded attempts",
    security: [{ bearer: [] }],
    request: { query: UsageQuery },
    responses: { 200: { description: "usage", content: { "application/json": { schema: UsageReport } } }, ...problemResponses(400, 401) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const to = q.to ? Date.parse(q.to) : Date.now();
    const from = q.from ? Date.parse(q.from) : to - 30 * 86_400_000;
    const items = await c.env.TENANT.getByName(c.get("tenantId")).usage(from, to, q.groupBy);
    return c.json({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy: q.groupBy, items }, 200);
  },
);
