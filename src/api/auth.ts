/**
 * Authentication. Tenant API keys are checked against the key's own tenant object (only
 * hashes are stored there). Locally, the DEV_API_KEY secret stands for tenant `dev`; that
 * shortcut does not exist when ENVIRONMENT is production. Admin routes use ADMIN_TOKEN.
 */
import type { MiddlewareHandler } from "hono";
import { isProduction } from "../env";
import { problems } from "../errors";
import { sha256Hex, timingSafeEqualHex } from "../lib/crypto";
import { parseApiKey } from "../lib/keys";
import type { AppEnv } from "./common";

function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S{1,256})\s*$/i);
  return m ? m[1]! : null;
}

export const requireTenant: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  const parts = token ? parseApiKey(token) : null;
  if (!token || !parts) throw problems.unauthenticated();
  const presented = await sha256Hex(parts.secret);

  const dev = !isProduction(c.env) && c.env.DEV_API_KEY ? parseApiKey(c.env.DEV_API_KEY) : null;
  let ok: boolean;
  if (dev && dev.tenantId === parts.tenantId && dev.keyId === parts.keyId) {
    ok = timingSafeEqualHex(await sha256Hex(dev.secret), presented);
  } else {
    ok = await c.env.TENANT.getByName(parts.tenantId).authenticate(parts.keyId, presented);
  }
  if (!ok) throw problems.unauthenticated();
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
