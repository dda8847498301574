/** /v1/admin/breakers: every external dependency's circuit breaker, read and configured by the operator. */
import { createRoute, z } from "@hono/zod-openapi";
import { BREAKER_REGISTRY, BreakerConfig, BreakerList, BreakerView, DependencyName } from "../../schema/breakers";
import { AppError } from "../errors";
import { JSON_BODY, json, type newApi, problemResponses, TOKEN_CALL } from "./common";

const security = [{ admin: [] }];

/** Adds the breaker routes to the admin sub-app (src/api/admin.ts), behind the same admin token. */
export function breakerRoutes(admin: ReturnType<typeof newApi>): void {
  const BreakerParam = z.object({
    name: DependencyName.openapi({ param: { name: "name", in: "path" }, description: "URL-encoded" }),
  });

  admin.openapi(
    createRoute({
      method: "get",
      operationId: "listBreakers",
      path: "/breakers",
      summary: "Every external dependency's circuit breaker: state, configuration, recent transitions",
      security,
      responses: { 200: json(BreakerList, "breakers"), ...problemResponses(...TOKEN_CALL) },
    }),
    async (c) => c.json({ items: await c.env.BREAKER.getByName(BREAKER_REGISTRY).list() }, 200),
  );

  admin.openapi(
    createRoute({
      method: "get",
      operationId: "getBreaker",
      path: "/breakers/{name}",
      summary: "One dependency's circuit breaker (defaults for one never configured nor tripped)",
      security,
      request: { params: BreakerParam },
      responses: { 200: json(BreakerView, "the breaker"), ...problemResponses(...TOKEN_CALL) },
    }),
    async (c) => c.json(await c.env.BREAKER.getByName(c.req.valid("param").name).view(), 200),
  );

  admin.openapi(
    createRoute({
      method: "put",
      operationId: "configureBreaker",
      path: "/breakers/{name}",
      summary: "Configure a dependency's circuit breaker: thresholds, window, cool-down, jitter, probes",
      security,
      request: {
        params: BreakerParam,
        body: { required: true, content: { "application/json": { schema: BreakerConfig } } },
      },
      responses: { 200: json(BreakerView, "the breaker"), ...problemResponses(...TOKEN_CALL, ...JSON_BODY) },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      if (name === BREAKER_REGISTRY) throw new AppError("request.invalid", "That name is reserved.");
      return c.json(await c.env.BREAKER.getByName(name).configure(c.req.valid("json")), 200);
    },
  );
}
