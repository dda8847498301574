/**
 * Authentication and authorization. A tenant key names its tenant, so it is checked by that
 * tenant's own object, which also applies the tenant's status and rate limit in the same call.
 * Locally, the DEV_API_KEY secret stands for tenant `dev`; that shortcut does not exist when
 * ENVIRONMENT is production. Admin routes use ADMIN_TOKEN. Secrets are compared in constant
 * time and never logged.
 */
import type { MiddlewareHandler } from "hono";
import type { Scope } from "../../schema/tenants";
import { isProduction } from "../env";
import { AppError, problems } from "../errors";
import { sha256Hex, timingSafeEqualHex } from "../lib/crypto";
import { parseApiKey } from "../lib/keys";
import type { AppEnv } from "./common";

function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S{1,256})\s*$/i);
  return m ? m[1]! : null;
}

/** The scope a request needs: reads and writes of runs, and webhook management. */
export function requiredScope(method: string, path: string): Scope {
  if (path.startsWith("/v1/webhooks")) return "webhooks:manage";
  return method === "GET" || method === "HEAD" ? "runs:read" : "runs:write";
}

export const requireTenant: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  const parts = token ? parseApiKey(token) : null;
  if (!token || !parts) throw problems.unauthenticated();
  const presented = await sha256Hex(parts.secret);

  const dev = !isProduction(c.env) && c.env.DEV_API_KEY ? parseApiKey(c.env.DEV_API_KEY) : null;
  const isDevKey = dev !== null && dev.tenantId === parts.tenantId && dev.keyId === parts.keyId;
  if (isDevKey && !timingSafeEqualHex(await sha256Hex(dev.secret), presented)) throw problems.unauthenticated();

  const auth = await c.env.TENANT.getByName(parts.tenantId).authenticate(isDevKey ? { dev: true } : { keyId: parts.keyId, secretHash: presented });
  if (!auth.ok) {
    if (auth.code === "tenant.suspended") throw problems.forbidden("tenant.suspended", "This tenant is suspended.");
    if (auth.code === "rate.limited") {
      throw new AppError("rate.limited", "Too many requests for this tenant; slow down.", { status: 429, retryable: true, retryAfterMs: auth.retryAfterMs });
    }
    throw problems.unauthenticated();
  }
  const scope = requiredScope(c.req.method, c.req.path);
  if (!auth.scopes.includes(scope)) throw problems.forbidden("auth.insufficient_scope", `This key lacks the '${scope}' scope.`);
  c.set("tenantId", parts.tenantId);
  await next();
};

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  const expected = c.env.ADMIN_TOKEN;
  if (!token || !expected || !timingSafeEqualHex(await sha256Hex(token), await sha256Hex(expected))) {
    throw problems.unauthenticated();
  }
  await next();
};
