/** Small resources: health and blueprints. */
import { createRoute, z } from "@hono/zod-openapi";
import { BlueprintList } from "../../schema/api";
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
