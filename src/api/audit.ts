/**
 * Reading the audit trail (docs/audit.md): `GET /v1/audit` (scope `audit:read`) and the admin's
 * `GET /v1/admin/tenants/{id}/audit`. A page merges the tenant's audit object (every control and
 * configuration change) with its run creations, read from the run index: both sources are asked
 * for the entries before the cursor, newest first, and the merge keeps the first `limit`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type AuditFilter, AuditPage, AuditQuery, type AuditRecord, entryView, newestFirst } from "../../schema/audit";
import { TenantId } from "../../schema/api";
import { AppError } from "../errors";
import { type AppEnv, json, newApi, problemResponses, TENANT_CALL, TOKEN_CALL } from "./common";

const AuditCursor = z.object({ at: z.number().int(), id: z.string().max(200) }).strict();

const encodeCursor = (c: z.infer<typeof AuditCursor>): string =>
  btoa(JSON.stringify(c)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

function decodeCursor(text: string): z.infer<typeof AuditCursor> | null {
  try {
    const parsed = AuditCursor.safeParse(JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** One page of a tenant's trail, both sources merged. */
async function page(c: Context<AppEnv>, tenantId: string, q: AuditQuery): Promise<AuditPage> {
  const before = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  if (before === null) throw new AppError("request.invalid", "The cursor is not one this API issued.");
  const filter: AuditFilter = {
    limit: q.limit,
    ...(q.action ? { action: q.action } : {}),
    ...(q.actor ? { actor: q.actor } : {}),
    ...(q.target ? { target: q.target } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
    ...(before ? { before } : {}),
  };
  const creations: Promise<AuditRecord[]> =
    filter.action && filter.action !== "run.create"
      ? Promise.resolve([])
      : c.env.TENANT.getByName(tenantId).auditRunCreations(filter);
  const [own, runs] = await Promise.all([c.env.AUDIT.getByName(tenantId).query(filter), creations]);
  // A deleted run's creation moved to the audit object; a crash mid-move may leave it in both.
  const seen = new Set<string>();
  const merged = [...own, ...runs].sort(newestFirst).filter((r) => !seen.has(r.id) && seen.add(r.id));
  const items = merged.slice(0, q.limit);
  const last = items.at(-1);
  return {
    items: items.map(entryView),
    nextCursor: merged.length > q.limit && last ? encodeCursor({ at: last.at, id: last.id }) : null,
  };
}

const description =
  "Every control and configuration change, newest first: who (API key with its name, the admin token, a " +
  "decision link, a callback URL, a schedule, a trigger), what, on which target, when, from which address " +
  "and user agent, with the request's trace id. `since` after `until` answers 400.";

export const audit = newApi();

audit.openapi(
  createRoute({
    method: "get",
    operationId: "listAudit",
    path: "/",
    summary: "The tenant's audit trail",
    description,
    security: [{ bearer: [] }],
    request: { query: AuditQuery },
    responses: { 200: json(AuditPage, "a page of audit entries"), ...problemResponses(...TENANT_CALL) },
  }),
  async (c) => c.json(await page(c, c.get("tenantId"), c.req.valid("query")), 200),
);

export const adminAudit = newApi();

adminAudit.openapi(
  createRoute({
    method: "get",
    operationId: "listTenantAudit",
    path: "/tenants/{id}/audit",
    summary: "A tenant's audit trail (admin)",
    description,
    security: [{ admin: [] }],
    request: { params: z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) }), query: AuditQuery },
    responses: { 200: json(AuditPage, "a page of audit entries"), ...problemResponses(...TOKEN_CALL) },
  }),
  async (c) => c.json(await page(c, c.req.valid("param").id, c.req.valid("query")), 200),
);
