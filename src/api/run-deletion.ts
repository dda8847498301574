/**
 * `DELETE /v1/runs/{id}`: purges a finished run at once. A hot run's object deletes its R2 keys and
 * then its own storage (RunObject.purge); an archived run's object is empty already, so its R2
 * prefix (archive and artifacts) is deleted here; then the tenant forgets the run
 * (control/tenant/run-deletion.ts). Each step is idempotent and the index row goes last, so a
 * delete cut short is finished by the next one. Everything is addressed through the caller's
 * tenant: another tenant's run is a 404 and nothing of it is touched.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { RUN_ID } from "../../schema/ids";
import { deleteRun } from "../control/delete-run";
import { AppError } from "../errors";
import { newApi, problemResponses, TENANT_CALL } from "./common";

export const runDeletion = newApi();

runDeletion.openapi(
  createRoute({
    method: "delete",
    operationId: "deleteRun",
    path: "/{id}",
    summary: "Delete a finished run now: its object's state, its archive, its artifacts and its index row",
    description:
      "A run still active is refused (`run.active`: cancel it first). Webhook deliveries of its events " +
      "already planned are still made. Idempotent until it answers 404.",
    security: [{ bearer: [] }],
    request: {
      params: z.object({
        id: z
          .string()
          .max(64)
          .openapi({ param: { name: "id", in: "path" }, example: "run_01jdz3k7m9q2w8e4r6t0y1u3i5" }),
      }),
    },
    responses: {
      204: { description: "deleted" },
      ...problemResponses(...TENANT_CALL, "run.not_found", "run.active"),
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const tenantId = c.get("tenantId");
    if (!RUN_ID.test(id)) throw new AppError("run.not_found");
    const done = await deleteRun(c.env, tenantId, id);
    if (done === "missing") throw new AppError("run.not_found");
    if (done !== "deleted") throw AppError.from(done);
    return c.body(null, 204);
  },
);
