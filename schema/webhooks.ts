/** Contracts of webhook endpoints, deliveries and the webhooks queue. */
import { z } from "@hono/zod-openapi";
import { EVENT_TYPES, TENANT_EVENT_TYPES } from "./vocabulary";
import { ProjectId } from "./api";

/** Event types delivered to webhooks: the run's milestones, not every internal transition. */
export const WEBHOOK_EVENT_TYPES = EVENT_TYPES.filter(
  (t) =>
    t.startsWith("run.") ||
    t.startsWith("artifact.") ||
    [
      "step.succeeded",
      "step.failed",
      "step.retrying",
      "step.cancelled",
      "step.skipped",
      // Nothing can run the step: people must start a worker with the right labels (issue 27).
      "step.unroutable",
      // Gates: a person or a system outside decides, so they are told (see GATE_EVENT_TYPES).
      "step.waiting",
      "step.approved",
      "step.rejected",
      "step.approval_expired",
      "step.signal_received",
    ].includes(t),
);

/** What an endpoint may subscribe to: the runs' milestones and the tenant's own events. */
export const SUBSCRIBABLE_EVENT_TYPES: readonly string[] = [...WEBHOOK_EVENT_TYPES, ...TENANT_EVENT_TYPES];

const families = new Set(SUBSCRIBABLE_EVENT_TYPES.map((t) => t.split(".")[0]));

export const EventTypePattern = z
  .string()
  .max(64)
  .refine(
    (p) => p === "*" || (p.endsWith(".*") ? families.has(p.slice(0, -2)) : SUBSCRIBABLE_EVENT_TYPES.includes(p)),
    { message: `one of ${SUBSCRIBABLE_EVENT_TYPES.join(", ")}, a family such as run.*, or *` },
  )
  .openapi({ example: "run.*" });

export const WebhookUrl = z.string().min(1).max(2048).openapi({ example: "https://hooks.example.com/factory" });

export const CreateWebhookBody = z
  .object({
    url: WebhookUrl,
    eventTypes: z.array(EventTypePattern).min(1).max(50),
    project: ProjectId.optional().openapi({ description: "only events of this project" }),
    description: z.string().max(200).optional(),
    includeDecisionLinks: z.boolean().optional().openapi({
      description:
        "step.waiting deliveries carry the gate's approveUrl/rejectUrl; only a key holding approvals:grant may set it (403 otherwise)",
    }),
  })
  .strict()
  .openapi("CreateWebhookBody");
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const UpdateWebhookBody = z
  .object({
    url: WebhookUrl.optional(),
    eventTypes: z.array(EventTypePattern).min(1).max(50).optional(),
    project: ProjectId.nullable().optional(),
    description: z.string().max(200).nullable().optional(),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: "true re-enables an endpoint that was disabled after failures" }),
    includeDecisionLinks: z.boolean().optional().openapi({
      description:
        "step.waiting deliveries carry the gate's approveUrl/rejectUrl; only a key holding approvals:grant may set it (403 otherwise)",
    }),
  })
  .strict()
  .openapi("UpdateWebhookBody");
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

export const WebhookEndpoint = z
  .object({
    id: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    project: z.string().nullable(),
    runId: z.string().nullable().openapi({ description: "set for a run's own callback endpoint" }),
    description: z.string().nullable(),
    status: z.enum(["active", "disabled"]),
    disabledReason: z.string().nullable(),
    includeDecisionLinks: z.boolean(),
    previousSecretExpiresAt: z
      .string()
      .datetime()
      .nullable()
      .openapi({ description: "while set, the previous secret signs too" }),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi("WebhookEndpoint");
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

export const WebhookWithSecret = WebhookEndpoint.extend({
  secret: z.string().openapi({ description: "the signing secret (whsec_…), shown only here" }),
}).openapi("WebhookWithSecret");

export const RotateSecretBody = z
  .object({
    overlapMs: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400_000)
      .default(86_400_000),
  })
  .strict()
  .openapi("RotateSecretBody");

export const DeliveryAttempt = z
  .object({
    n: z.number().int(),
    at: z.string().datetime(),
    statusCode: z.number().int().nullable(),
    latencyMs: z.number().int(),
    excerpt: z.string().nullable().openapi({ description: "the start of the response body" }),
    error: z.string().nullable(),
  })
  .openapi("DeliveryAttempt");

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;

export const Delivery = z
  .object({
    id: z.string(),
    endpointId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    runId: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    nextAttemptAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
    attempts: z.array(DeliveryAttempt),
  })
  .openapi("Delivery");
export type Delivery = z.infer<typeof Delivery>;

export const DeliveryQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  eventId: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const ReplayBody = z
  .object({ since: z.string().datetime().openapi({ description: "replay the failed deliveries created since then" }) })
  .strict()
  .openapi("ReplayBody");

/** What the webhooks queue carries: new events to fan out, or one delivery to (re)attempt. */
export const WebhookMessage = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("events"),
      tenantId: z.string().max(64),
      events: z.array(z.record(z.string(), z.unknown())).max(500),
    })
    .strict(),
  z.object({ kind: z.literal("delivery"), tenantId: z.string().max(64), deliveryId: z.string().max(64) }).strict(),
]);
export type WebhookMessage = z.infer<typeof WebhookMessage>;

// ── The delivery contract: what the tenant's object hands the webhook sender and hears back ──

/** One delivery to send: the signed payload, and every secret it is signed with (rotation). */
export interface DeliveryTask {
  deliveryId: string;
  eventId: string;
  url: string;
  payload: string;
  secrets: string[];
  /**
   * Set for an endpoint flagged with includeDecisionLinks: the key that flagged it. The sender adds
   * a waiting gate's links to the payload it signs (src/webhooks/links.ts); the stored payload has none.
   */
  linksFor?: string;
}

/** How a sent attempt went, as the sender reports it to the tenant's object. */
export interface AttemptResult {
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
  retryAfterMs?: number;
}

export interface DisablePolicy {
  /** Consecutive failed attempts, across deliveries, before an endpoint can be disabled… */
  failures: number;
  /** …and for at least this long since the first of them. */
  afterMs: number;
}

export interface DeliveryPolicy {
  schedule: readonly number[];
  disable: DisablePolicy;
  /** How long an attempt may be out before its delivery is tried again anyway. */
  inFlightMs: number;
}
