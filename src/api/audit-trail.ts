/**
 * Recording the audit trail (docs/audit.md): one middleware sees every request that succeeded and,
 * when its route is a control or a configuration change, records who did it into the tenant's
 * audit object. One table names every audited route, so a new route is audited by adding a line
 * here, and nothing is recorded for a refused request. Run creation is not here: it is served
 * from the run index (src/control/tenant/run-audit.ts), which keeps the hot path's budgets.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AuditAction, AuditNote, AuditRecord } from "../../schema/audit";
import { traceIdFrom } from "../lib/crypto";
import { logError } from "../lib/log";
import type { AppEnv } from "./common";

/** An audited route: its method and path, the action, and how its target is named. */
interface Rule {
  method: string;
  path: RegExp;
  action: AuditAction | ((m: RegExpMatchArray) => AuditAction);
  /** From the path's groups, or from the created resource's id (`body`). */
  target: (m: RegExpMatchArray, body: { id?: string } | null) => string;
  /** Admin routes name their tenant in the path (group 1), or in the created body. */
  admin?: "path" | "body";
}

const RUN = "/v1/runs/([^/]+)";
const run = (m: RegExpMatchArray) => `run:${m[1]}`;
const created = (kind: string) => (_: RegExpMatchArray, body: { id?: string } | null) => `${kind}:${body?.id ?? "?"}`;
const named = (kind: string) => (m: RegExpMatchArray) => `${kind}:${m[1]}`;
const tenant = (m: RegExpMatchArray) => `tenant:${m[1]}`;
const byName = (kind: string) => (_: RegExpMatchArray, body: { id?: string } | null) =>
  `${kind}:${(body as { name?: string } | null)?.name ?? "?"}`;
const ADMIN_TENANT = "/v1/admin/tenants/([^/]+)";

const RULES: readonly Rule[] = [
  {
    method: "POST",
    path: re(`${RUN}/(cancel|pause|resume|retry)`),
    action: (m) => `run.${m[2]}` as AuditAction,
    target: run,
  },
  { method: "DELETE", path: re(RUN), action: "run.delete", target: run },
  {
    method: "POST",
    path: re(`${RUN}/steps/([^/]+)/(approve|reject)`),
    action: (m) => `gate.${m[3]}` as AuditAction,
    target: (m) => `run:${m[1]}/${m[2]}`,
  },
  {
    method: "POST",
    path: re(`${RUN}/signals/([^/]+)`),
    action: "gate.signal",
    target: (m) => `run:${m[1]}/signal:${m[2]}`,
  },
  {
    method: "PUT",
    path: re("/v1/projects/([^/]+)/artifacts/([^/]+)/versions/([^/]+)/pin"),
    action: "artifact.pin",
    target: (m) => `artifact:${m[1]}/${m[2]}@${m[3]}`,
  },
  {
    method: "DELETE",
    path: re("/v1/projects/([^/]+)/artifacts/([^/]+)/versions/([^/]+)/pin"),
    action: "artifact.unpin",
    target: (m) => `artifact:${m[1]}/${m[2]}@${m[3]}`,
  },
  { method: "POST", path: re("/v1/webhooks"), action: "webhook.create", target: created("webhook") },
  { method: "PATCH", path: re("/v1/webhooks/([^/]+)"), action: "webhook.update", target: named("webhook") },
  { method: "DELETE", path: re("/v1/webhooks/([^/]+)"), action: "webhook.delete", target: named("webhook") },
  {
    method: "POST",
    path: re("/v1/webhooks/([^/]+)/rotate-secret"),
    action: "webhook.rotate_secret",
    target: named("webhook"),
  },
  {
    method: "POST",
    path: re("/v1/webhooks/([^/]+)(?:/deliveries/[^/]+)?/replay"),
    action: "webhook.replay",
    target: named("webhook"),
  },
  { method: "PUT", path: re("/v1/secrets/([^/]+)"), action: "secret.put", target: named("secret") },
  { method: "DELETE", path: re("/v1/secrets/([^/]+)"), action: "secret.delete", target: named("secret") },
  { method: "POST", path: re("/v1/schedules"), action: "schedule.create", target: created("schedule") },
  { method: "PATCH", path: re("/v1/schedules/([^/]+)"), action: "schedule.update", target: named("schedule") },
  { method: "DELETE", path: re("/v1/schedules/([^/]+)"), action: "schedule.delete", target: named("schedule") },
  { method: "POST", path: re("/v1/schedules/([^/]+)/trigger"), action: "schedule.fire", target: named("schedule") },
  { method: "POST", path: re("/v1/triggers"), action: "trigger.create", target: created("trigger") },
  { method: "DELETE", path: re("/v1/triggers/([^/]+)"), action: "trigger.delete", target: named("trigger") },
  { method: "PUT", path: re("/v1/telemetry"), action: "telemetry.configure", target: () => "telemetry" },
  { method: "DELETE", path: re("/v1/telemetry"), action: "telemetry.remove", target: () => "telemetry" },
  { method: "POST", path: re("/v1/admin/tenants"), action: "tenant.create", target: created("tenant"), admin: "body" },
  { method: "PATCH", path: re(ADMIN_TENANT), action: "tenant.update", target: tenant, admin: "path" },
  { method: "DELETE", path: re(ADMIN_TENANT), action: "tenant.purge", target: tenant, admin: "path" },
  { method: "PUT", path: re(`${ADMIN_TENANT}/budgets`), action: "budgets.set", target: tenant, admin: "path" },
  { method: "PUT", path: re(`${ADMIN_TENANT}/retention`), action: "retention.set", target: tenant, admin: "path" },
  { method: "PATCH", path: re(`${ADMIN_TENANT}/scanning`), action: "scanning.update", target: tenant, admin: "path" },
  {
    method: "POST",
    path: re(`${ADMIN_TENANT}/scanning/allow`),
    action: "scanning.allow",
    target: tenant,
    admin: "path",
  },
  {
    method: "DELETE",
    path: re(`${ADMIN_TENANT}/scanning/allow/([^/]+)/([^/]+)`),
    action: "scanning.disallow",
    target: (m) => `fingerprint:${m[2]}/${m[3]}`,
    admin: "path",
  },
  { method: "POST", path: re(`${ADMIN_TENANT}/keys`), action: "key.create", target: created("key"), admin: "path" },
  {
    method: "DELETE",
    path: re(`${ADMIN_TENANT}/keys/([^/]+)`),
    action: "key.revoke",
    target: (m) => `key:${m[2]}`,
    admin: "path",
  },
  {
    method: "POST",
    path: re(`${ADMIN_TENANT}/keys/([^/]+)/rotate`),
    action: "key.rotate",
    target: (m) => `key:${m[2]}`,
    admin: "path",
  },
  // A tenant's own workers: the created pool and job type are named by their bodies' `name`.
  { method: "POST", path: re("/v1/pools"), action: "pool.create", target: byName("pool") },
  { method: "DELETE", path: re("/v1/pools/([^/]+)"), action: "pool.delete", target: named("pool") },
  { method: "POST", path: re("/v1/pools/([^/]+)/tokens"), action: "pool.token_create", target: named("pool") },
  {
    method: "DELETE",
    path: re("/v1/pools/([^/]+)/tokens/([^/]+)"),
    action: "pool.token_revoke",
    target: (m) => `pool:${m[1]}/token:${m[2]}`,
  },
  { method: "POST", path: re("/v1/job-types"), action: "job_type.create", target: byName("job_type") },
];

function re(path: string): RegExp {
  return new RegExp(`^${path}/?$`);
}

/** Who asked and from where, as the audit trail records it. */
export function requestMeta(
  c: Context<AppEnv>,
  actor: string,
): { actor: string; ip: string | null; userAgent: string | null } {
  return {
    actor,
    ip: c.req.header("cf-connecting-ip") ?? null,
    userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  };
}

/** The route's audit entry for a successful answer, or null when the route is not audited. */
async function entryFor(c: Context<AppEnv>, rule: Rule, m: RegExpMatchArray): Promise<[string, AuditRecord] | null> {
  const body = rule.target.length > 1 ? ((await c.res.clone().json()) as { id?: string }) : null;
  const tenantId = rule.admin === "path" ? m[1] : rule.admin === "body" ? body?.id : c.get("tenantId");
  if (!tenantId) return null;
  const key = rule.admin ? null : c.get("key");
  const actor = rule.admin ? "admin" : key ? `key:${key.keyId}` : "runtime";
  const action = typeof rule.action === "function" ? rule.action(m) : rule.action;
  return [tenantId, record(c, { tenantId, action, actor, target: rule.target(m, body) }, key?.name ?? null)];
}

function record(c: Context<AppEnv>, note: AuditNote, actorName: string | null): AuditRecord {
  const meta = requestMeta(c, note.actor);
  return {
    id: crypto.randomUUID(),
    at: Date.now(),
    action: note.action,
    actor: note.actor,
    actorName,
    target: note.target,
    ip: meta.ip,
    userAgent: meta.userAgent,
    traceId: traceIdFrom(c.req.header("traceparent")) ?? null,
  };
}

/**
 * Records the request's change once it succeeded. Awaited, not left to `waitUntil`: an answered
 * change is on the trail. A failure to record is logged and does not undo the change.
 */
export const auditTrail: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.res.status >= 300) return;
  try {
    const found = await match(c);
    if (found) await c.env.AUDIT.getByName(found[0]).record(found[1]);
  } catch (err) {
    logError("audit.record_failed", { method: c.req.method, path: c.req.path, error: String(err) });
  }
};

async function match(c: Context<AppEnv>): Promise<[string, AuditRecord] | null> {
  const note = c.get("auditNote");
  if (note) return [note.tenantId, record(c, note, null)];
  for (const rule of RULES) {
    if (rule.method !== c.req.method) continue;
    const m = c.req.path.match(rule.path);
    if (m) return entryFor(c, rule, m);
  }
  return null;
}
