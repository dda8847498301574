/** Bulk operations on runs (issue 28): `POST /v1/runs/bulk`, `GET|DELETE /v1/operations/{id}`. */
import { z } from "@hono/zod-openapi";
import { RUN_ID } from "./ids";
import { RunFilterBody } from "./search";

export const BULK_ACTIONS = ["cancel", "retry", "delete"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];
export const DEFAULT_MAX_BULK = 10_000;
/** Runs given by id: as many as a filter may match by default. */
export const MAX_BULK_IDS = 10_000;

export const BulkBody = z
  .object({
    action: z.enum(BULK_ACTIONS).openapi({ description: "retry: only failed or cancelled runs (others are skipped)" }),
    filter: RunFilterBody.optional(),
    ids: z.array(z.string().regex(RUN_ID)).min(1).max(MAX_BULK_IDS).optional(),
    reason: z.string().min(1).max(500).optional(),
    dryRun: z.boolean().default(false).openapi({ description: "only count the runs the operation would change" }),
  })
  .strict()
  .refine((b) => (b.filter === undefined) !== (b.ids === undefined), {
    message: "give exactly one of `filter` or `ids`",
    path: ["filter"],
  })
  .openapi("BulkBody");
export type BulkBody = z.infer<typeof BulkBody>;

export const OPERATION_STATUSES = ["running", "succeeded", "stopped"] as const;

export const OperationView = z
  .object({
    id: z.string(),
    action: z.enum(BULK_ACTIONS),
    status: z.enum(OPERATION_STATUSES),
    dryRun: z.boolean(),
    reason: z.string().nullable(),
    filter: RunFilterBody.nullable(),
    matched: z.number().int().openapi({ description: "runs the filter or ids named when the operation began" }),
    done: z.number().int(),
    skipped: z.number().int(),
    skippedReasons: z.record(z.string(), z.number().int()).openapi({ description: "skipped runs by the code of why" }),
    failed: z.number().int(),
    pending: z.number().int(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
    finishedAt: z.string().datetime().nullable(),
  })
  .openapi("Operation");
export type OperationView = z.infer<typeof OperationView>;
