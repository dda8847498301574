/** Bulk operations on runs (issue 28): `POST /v1/runs/bulk`, `GET|DELETE /v1/operations/{id}`. */
import { createRoute, z } from "@hono/zod-openapi";
import { BulkBody, DEFAULT_MAX_BULK, OperationView } from "../../schema/operations";
import type { Env } from "../env";
import { AppError } from "../errors";
import { JSON_BODY, newApi, problemResponses, TENANT_CALL } from "./common";

export const operations = newApi();
const security = [{ bearer: [] }];
const IdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "op_01jdz3k7m9q2w8e4r6t0y1u3i5" }),
});
const stub = (env: Env, tenantId: string) => env.OPERATIONS.getByName(tenantId);

operations.openapi(
  createRoute({
    method: "post",
    operationId: "bulkRuns",
    path: "/runs/bulk",
    summary: "Cancel, retry or delete every run a filter (or a list of ids) names, in batches",
    description:
      "Answers 202 with the operation; `GET /v1/operations/{id}` follows it. The runs are those matched when it " +
      "begins. One operation per tenant at a time (409 `operation.active`); a filter matching more than " +
      "`limits.maxBulk` runs (10,000 by default) is refused (`operation.too_many`). `dryRun` only counts.",
    security,
    request: { body: { required: true, content: { "application/json": { schema: BulkBody } } } },
    responses: {
      202: { description: "the operation", content: { "application/json": { schema: OperationView } } },
      ...problemResponses(...TENANT_CALL, ...JSON_BODY, "operation.active", "operation.too_many"),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const tenantId = c.get("tenantId");
    const tenant = await c.env.TENANT.getByName(tenantId).getTenant();
    const begun = await stub(c.env, tenantId).begin(tenantId, body, tenant?.limits.maxBulk ?? DEFAULT_MAX_BULK);
    if (!begun.ok) throw AppError.from(begun);
    c.header("location", `/v1/operations/${begun.operation.id}`);
    return c.json(begun.operation, 202);
  },
);

operations.openapi(
  createRoute({
    method: "get",
    operationId: "getOperation",
    path: "/operations/{id}",
    summary: "A bulk operation's progress: runs matched, done, skipped (with why), failed, pending",
    security,
    request: { params: IdParam },
    responses: {
      200: { description: "the operation", content: { "application/json": { schema: OperationView } } },
      ...problemResponses(...TENANT_CALL, "operation.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const op = await stub(c.env, tenantId).get(tenantId, c.req.valid("param").id);
    if (!op) throw new AppError("operation.not_found");
    return c.json(op, 200);
  },
);

operations.openapi(
  createRoute({
    method: "delete",
    operationId: "stopOperation",
    path: "/operations/{id}",
    summary: "Stop a bulk operation: runs not yet changed are left as they are",
    security,
    request: { params: IdParam },
    responses: {
      200: { description: "the operation, stopped", content: { "application/json": { schema: OperationView } } },
      ...problemResponses(...TENANT_CALL, "operation.not_found"),
    },
  }),
  async (c) => {
    const tenantId = c.get("tenantId");
    const op = await stub(c.env, tenantId).stop(tenantId, c.req.valid("param").id);
    if (!op) throw new AppError("operation.not_found");
    return c.json(op, 200);
  },
);
