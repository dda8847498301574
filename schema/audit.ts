/**
 * The audit trail's contracts (docs/audit.md): who changed what, when, from where. The actions are
 * a closed vocabulary so a query by action, and the list in the docs, cannot drift from what is
 * recorded.
 */
import { z } from "@hono/zod-openapi";

export const AUDIT_ACTIONS = [
  "run.create",
  "run.cancel",
  "run.pause",
  "run.resume",
  "run.retry",
  "run.delete",
  "gate.approve",
  "gate.reject",
  "gate.signal",
  "artifact.pin",
  "artifact.unpin",
  "webhook.create",
  "webhook.update",
  "webhook.delete",
  "webhook.rotate_secret",
  "webhook.replay",
  "secret.put",
  "secret.delete",
  "schedule.create",
  "schedule.update",
  "schedule.delete",
  "schedule.fire",
  "trigger.create",
  "trigger.delete",
  "telemetry.configure",
  "telemetry.remove",
  "tenant.create",
  "tenant.update",
  "tenant.purge",
  "budgets.set",
  "retention.set",
  "scanning.update",
  "scanning.allow",
  "scanning.disallow",
  "key.create",
  "key.revoke",
  "key.rotate",
  // A tenant's own workers (docs/external-workers.md).
  "pool.create",
  "pool.delete",
  "pool.token_create",
  "pool.token_revoke",
  "job_type.create",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const ACTOR_KINDS = ["key", "admin", "link", "callback", "schedule", "trigger", "runtime"] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

export const AuditActor = z
  .object({
    kind: z.enum(ACTOR_KINDS),
    id: z.string().nullable().openapi({ description: "the key's, link's, schedule's or trigger's id" }),
    name: z.string().nullable().openapi({ description: "the key's name, when it has one" }),
  })
  .openapi("AuditActor");
export type AuditActor = z.infer<typeof AuditActor>;

export const AuditEntry = z
  .object({
    id: z.string(),
    at: z.string().openapi({ description: "ISO 8601 time of the change" }),
    action: z.enum(AUDIT_ACTIONS),
    actor: AuditActor,
    target: z.string().openapi({ example: "run:run_01jdz3k7m9q2w8e4r6t0y1u3i5" }),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    traceId: z.string().nullable(),
  })
  .openapi("AuditEntry");
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditPage = z
  .object({ items: z.array(AuditEntry), nextCursor: z.string().nullable() })
  .openapi("AuditPage");
export type AuditPage = z.infer<typeof AuditPage>;

const isoTime = z
  .string()
  .datetime({ offset: true })
  .transform((s) => Date.parse(s));

export const AuditQuery = z
  .object({
    action: z.enum(AUDIT_ACTIONS).optional(),
    actor: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: "an actor kind (`key`, `admin`, `schedule`…) or `kind:id` (`key:k1a2…`)" }),
    target: z.string().max(200).optional().openapi({ description: "exact target, e.g. `run:run_…`" }),
    since: isoTime.optional().openapi({ type: "string", format: "date-time" }),
    until: isoTime.optional().openapi({ type: "string", format: "date-time" }),
    cursor: z.string().max(512).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
  })
  .refine((q) => q.since === undefined || q.until === undefined || q.since <= q.until, {
    message: "since must not be after until",
    path: ["since"],
  });
export type AuditQuery = z.infer<typeof AuditQuery>;

/** What the audit store is asked: the query with its cursor decoded. */
export interface AuditFilter {
  action?: AuditAction | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** Entries strictly older than this (at, id), newest first. */
  before?: { at: number; id: string } | undefined;
  limit: number;
}

/** An entry as stored and handed across RPC: time in ms, the actor as `kind[:id]`. */
export interface AuditRecord {
  id: string;
  at: number;
  action: AuditAction;
  actor: string;
  actorName: string | null;
  target: string;
  ip: string | null;
  userAgent: string | null;
  traceId: string | null;
}

/** A change recorded by its route itself (a decision link, a callback URL): the credential was the URL. */
export interface AuditNote {
  tenantId: string;
  action: AuditAction;
  actor: string;
  target: string;
}

/** `kind:id` (or `kind`) as stored, to the wire form. */
export function actorView(actor: string, name: string | null): AuditActor {
  const at = actor.indexOf(":");
  const kind = (at < 0 ? actor : actor.slice(0, at)) as ActorKind;
  return { kind, id: at < 0 ? null : actor.slice(at + 1), name };
}

export function entryView(r: AuditRecord): AuditEntry {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    action: r.action,
    actor: actorView(r.actor, r.actorName),
    target: r.target,
    ip: r.ip,
    userAgent: r.userAgent,
    traceId: r.traceId,
  };
}

/** Newest first, then by id: the order of every page, and of merging two sources' pages. */
export const newestFirst = (a: AuditRecord, b: AuditRecord): number =>
  b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
