/** Contracts of tenants, their limits and API keys (the admin API). */
import { z } from "@hono/zod-openapi";
import { TenantId } from "./api";

export const SCOPES = [
  "runs:read",
  "runs:write",
  "webhooks:manage",
  "approvals:grant",
  // Writing and deleting tenant secrets; never granted by default (docs/delivery.md).
  "secrets:manage",
  // Sending events that start runs through triggers (docs/schedules-and-triggers.md).
  "events:write",
  // Reading the audit trail (docs/audit.md); never granted by default.
  "audit:read",
  // A tenant's own worker pools, their tokens, and its job types (docs/external-workers.md); never by default.
  "workers:manage",
] as const;
export type Scope = (typeof SCOPES)[number];
/**
 * A new key's scopes when it names none: everything but `approvals:grant`, which deciding an
 * approval gate needs and which is granted explicitly (a key that can start a run cannot also
 * wave it through its own gate unless someone said so).
 */
export const DEFAULT_SCOPES: readonly Scope[] = ["runs:read", "runs:write", "webhooks:manage"];

export const TENANT_STATUSES = ["active", "suspended"] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export const Limits = z
  .object({
    maxConcurrentRuns: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .openapi({ description: "running runs per unit of `weight`; runs beyond that wait in `queued`" }),
    requestsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .openapi({ description: "API token bucket: refill per minute, and burst" }),
    monthlyRuns: z.number().int().min(0).max(100_000_000).openapi({ description: "new runs per calendar month (UTC)" }),
    maxSchedules: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .optional()
      .openapi({ description: "schedules the tenant may have (1,000 when absent)" }),
    maxBulk: z.number().int().min(1).max(100_000).optional().openapi({
      description: "runs a bulk operation's filter may match (10,000 when absent); ids lists are not bound by it",
    }),
    maxTriggers: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .optional()
      .openapi({ description: "triggers the tenant may have (1,000 when absent)" }),
    unroutableAfterMs: z.number().int().min(1_000).max(86_400_000).optional().openapi({
      description:
        "how long a step may wait in a tenant pool that no live worker can take before `step.unroutable` (5 minutes when absent)",
    }),
    shards: z.number().int().min(1).max(64).optional().openapi({
      description:
        "tenant objects that open this tenant's runs (1 when absent): each opens its share of the rate; see docs/capacity.md",
    }),
  })
  .strict()
  .openapi("Limits");
export type Limits = z.infer<typeof Limits>;

export const DEFAULT_LIMITS: Limits = { maxConcurrentRuns: 20, requestsPerMinute: 600, monthlyRuns: 10_000 };

export const CreateTenantBody = z
  .object({
    id: TenantId.optional().openapi({ description: "chosen id; generated when absent" }),
    name: z.string().min(1).max(100),
    limits: Limits.partial().strict().optional(),
    weight: z.number().int().min(1).max(100).optional().openapi({
      description: "fairness weight: multiplies maxConcurrentRuns, so a saturated pool is shared by weight",
    }),
  })
  .strict()
  .openapi("CreateTenantBody");
export type CreateTenantBody = z.infer<typeof CreateTenantBody>;

export const UpdateTenantBody = z
  .object({
    name: z.string().min(1).max(100).optional(),
    status: z.enum(TENANT_STATUSES).optional(),
    limits: Limits.partial().strict().optional(),
    weight: z.number().int().min(1).max(100).optional(),
  })
  .strict()
  .openapi("UpdateTenantBody");
export type UpdateTenantBody = z.infer<typeof UpdateTenantBody>;

export const Tenant = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(TENANT_STATUSES),
    limits: Limits,
    weight: z.number().int(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi("Tenant");
export type Tenant = z.infer<typeof Tenant>;

export const CreateKeyBody = z
  .object({
    name: z.string().min(1).max(64).optional(),
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .max(SCOPES.length)
      .optional()
      .openapi({ description: "all scopes but approvals:grant when absent" }),
    // A key born expired is a mistake the caller should hear about, not a key that never works.
    expiresAt: z
      .string()
      .datetime()
      .refine((at) => Date.parse(at) > Date.now(), "must be in the future")
      .optional(),
  })
  .strict()
  .openapi("CreateKeyBody");
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string().datetime(),
    expiresAt: z.string().datetime().nullable(),
    revokedAt: z.string().datetime().nullable(),
  })
  .openapi("ApiKey");
export type ApiKey = z.infer<typeof ApiKey>;

export const CreatedKey = ApiKey.extend({
  tenantId: z.string(),
  key: z.string().openapi({ description: "the key itself, shown only here" }),
}).openapi("CreatedKey");
export type CreatedKey = z.infer<typeof CreatedKey>;

export const RotateKeyBody = z
  .object({
    overlapMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .default(0)
      .openapi({ description: "how long the old key keeps working" }),
  })
  .strict()
  .openapi("RotateKeyBody");

/**
 * `DELETE /v1/admin/tenants/{id}`: the admin token names no one, so the request says who asked
 * and why; both go into the audit record that outlives the tenant.
 */
export const PurgeTenantBody = z
  .object({
    reason: z.string().min(1).max(500).openapi({ description: "why the tenant's data is deleted (audited)" }),
    requestedBy: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "who asked: a person or a ticket (audited; the admin token names no one)" }),
  })
  .strict()
  .openapi("PurgeTenantBody");
export type PurgeTenantBody = z.infer<typeof PurgeTenantBody>;

export const PurgeCounts = z
  .object({
    runs: z.number().int().openapi({ description: "runs purged (their objects, R2 keys and index rows)" }),
    activeRunsCancelled: z.number().int(),
    r2Keys: z.number().int().openapi({ description: "R2 keys deleted under the tenant's prefix after its runs" }),
    webhooks: z.number().int().openapi({ description: "webhook endpoints deleted with the tenant's storage" }),
    keys: z.number().int().openapi({ description: "API keys deleted with the tenant's storage" }),
  })
  .openapi("PurgeCounts");
export type PurgeCounts = z.infer<typeof PurgeCounts>;

export const PURGE_PHASES = ["runs", "objects", "storage"] as const;

/** A purge under way, as the tenant's object reports it. */
export const PurgeProgress = z
  .object({
    phase: z.enum(PURGE_PHASES).openapi({ description: "runs, then R2 keys, then the tenant's own storage" }),
    requestedAt: z.string().datetime(),
    reason: z.string(),
    requestedBy: z.string(),
    counts: PurgeCounts,
    updatedAt: z.string().datetime(),
  })
  .openapi("PurgeProgress");
export type PurgeProgress = z.infer<typeof PurgeProgress>;

/** The audit record of a purge, kept by the tenant directory after the tenant is gone. */
export const PurgeAudit = z
  .object({
    tenantId: z.string(),
    reason: z.string(),
    requestedBy: z.string(),
    requestedAt: z.string().datetime(),
    finishedAt: z.string().datetime().nullable().openapi({ description: "null while the purge is under way" }),
    counts: PurgeCounts.nullable().openapi({ description: "what was deleted; null while under way" }),
  })
  .openapi("PurgeAudit");
export type PurgeAudit = z.infer<typeof PurgeAudit>;
