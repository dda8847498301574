/**
 * Authentication and authorization. A tenant key names its tenant, so it is checked by that
 * tenant's own object, which also applies the tenant's status and rate limit in the same call;
 * the isolate keeps the answer for at most KEY_CACHE_MS (./key-cache.ts), so a revoked key or a
 * suspended tenant is refused everywhere within that bound.
 * Locally, the DEV_API_KEY secret stands for tenant `dev`; that shortcut does not exist when
 * ENVIRONMENT is production. Admin routes use ADMIN_TOKEN. Secrets are compared in constant
 * time and never logged.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Credential } from "../control/tenant/object";
import type { OpenAuth } from "../control/tenant/open-on-shard";
import type { Scope } from "../../schema/tenants";
import { isProduction, numberVar } from "../env";
import { AppError } from "../errors";
import { sha256Hex, timingSafeEqualHex } from "../lib/crypto";
import { type ApiKeyParts, keyMac, parseApiKey } from "../lib/keys";
import type { AppEnv } from "./common";
import { KeyCache } from "./key-cache";

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearer(header: string | undefined): string | null {
  const m = header?.match(/^Bearer\s+(\S{1,256})\s*$/i);
  return m?.[1] ?? null; // the group always takes part in a match
}

/** Deciding an approval gate: runs:write is not enough. */
const DECISION_PATH = /^\/v1\/runs\/[^/]+\/steps\/[^/]+\/(approve|reject)\/?$/;
/** A gate's decision links decide it as well as a key does: the same scope. */
const LINKS_PATH = /^\/v1\/runs\/[^/]+\/steps\/[^/]+\/links\/?$/;

/** The scope a request needs: reads and writes of runs, and webhook management. */
export function requiredScope(method: string, path: string): Scope {
  if (path.startsWith("/v1/webhooks")) return "webhooks:manage";
  // A collector is an outbound destination with secret headers, as a webhook endpoint is.
  if (path.startsWith("/v1/telemetry")) return "webhooks:manage";
  if (path.startsWith("/v1/secrets")) return "secrets:manage";
  if (path.startsWith("/v1/events")) return "events:write";
  if (path.startsWith("/v1/audit")) return "audit:read";
  // A tenant's pools and job types: reading them is a run author's need; tokens and changes are not.
  if (path.startsWith("/v1/pools") || path.startsWith("/v1/job-types"))
    return method === "GET" && !path.includes("/tokens") ? "runs:read" : "workers:manage";
  if (method === "POST" && DECISION_PATH.test(path)) return "approvals:grant";
  if (LINKS_PATH.test(path)) return "approvals:grant";
  return method === "GET" || method === "HEAD" ? "runs:read" : "runs:write";
}

/**
 * A key's MAC, checked before any object is called: a key whose tenant or id was invented (or
 * changed) is refused here. A key without a MAC (made before KEY_MAC_KEY) goes on to its tenant's
 * object, unless KEY_MAC_REQUIRED says every key has one by now.
 */
function macCheck(env: AppEnv["Bindings"], parts: ApiKeyParts): void {
  const macKey = env.KEY_MAC_KEY;
  if (!macKey) return;
  if (parts.mac === undefined) {
    if (env.KEY_MAC_REQUIRED === "true") throw new AppError("auth.unauthenticated");
    return;
  }
  if (!timingSafeEqualHex(parts.mac, keyMac(macKey, parts.tenantId, parts.keyId)))
    throw new AppError("auth.unauthenticated");
}

/** A request's key, checked as far as it can be without its tenant's object. */
async function credential(c: Context<AppEnv>): Promise<{ tenantId: string; presented: Credential }> {
  const token = bearer(c.req.header("authorization"));
  const parts = token ? parseApiKey(token) : null;
  if (!token || !parts) throw new AppError("auth.unauthenticated");
  const presented = await sha256Hex(parts.secret);
  const dev = !isProduction(c.env) && c.env.DEV_API_KEY ? parseApiKey(c.env.DEV_API_KEY) : null;
  const isDevKey = dev !== null && dev.tenantId === parts.tenantId && dev.keyId === parts.keyId;
  if (!isDevKey) macCheck(c.env, parts);
  if (isDevKey && !timingSafeEqualHex(await sha256Hex(dev.secret), presented))
    throw new AppError("auth.unauthenticated");
  return {
    tenantId: parts.tenantId,
    presented: isDevKey ? { dev: true } : { keyId: parts.keyId, secretHash: presented },
  };
}

/** Creating a run: the key is verified by the same tenant call that opens the run (`openRun`). */
const deferred = (method: string, path: string) => method === "POST" && (path === "/v1/runs" || path === "/v1/runs/");

export const requireTenant: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { tenantId, presented } = await credential(c);
  c.set("tenantId", tenantId);
  if (deferred(c.req.method, c.req.path)) {
    // Checked by `openRun` once the body is valid, or by `verifyKey` before anything costlier.
    c.set("credential", presented);
    return next();
  }
  await verify(c, tenantId, presented);
  await next();
};

/** How long an isolate trusts a key check (KEY_CACHE_MS, default 5 s; 0 turns the cache off). */
export const KEY_CACHE_MS = 5_000;
let keyCache: KeyCache | undefined;

/** The isolate's key cache; admin routes that change a tenant's keys or status forget its entries. */
export function keyCacheFor(env: AppEnv["Bindings"]): KeyCache {
  keyCache ??= new KeyCache(numberVar(env.KEY_CACHE_MS, KEY_CACHE_MS));
  return keyCache;
}

async function verify(c: Context<AppEnv>, tenantId: string, presented: Credential): Promise<void> {
  // The local dev key is never cached: it exists only where storage may be wiped under a live
  // isolate (tests, `.wrangler/state`), and its tenant is made on its first check.
  const cache = "dev" in presented ? null : keyCacheFor(c.env);
  const cacheKey = "dev" in presented ? "" : `${tenantId}:${presented.keyId}:${presented.secretHash}`;
  const now = Date.now();
  let verdict = cache?.take(cacheKey, now) ?? null;
  if (!verdict) {
    const auth = await c.env.TENANT.getByName(tenantId).authenticate(presented, cache?.lease(cacheKey, now) ?? 1);
    if (!auth.ok) throw AppError.from(auth);
    verdict = { scopes: auth.scopes, key: auth.key };
    cache?.put(cacheKey, tenantId, verdict, auth.tokens, now);
  }
  const scope = requiredScope(c.req.method, c.req.path);
  if (!verdict.scopes.includes(scope))
    throw new AppError("auth.insufficient_scope", `This key lacks the '${scope}' scope.`);
  c.set("key", { keyId: verdict.key.id, name: verdict.key.name, scopes: verdict.scopes });
}

/** Verifies a key whose check was deferred, now, in a call of its own (see `requireTenant`). */
export async function verifyKey(c: Context<AppEnv>): Promise<void> {
  const presented = c.get("credential");
  if (presented) await verify(c, c.get("tenantId"), presented);
  c.set("credential", undefined);
}

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  const expected = c.env.ADMIN_TOKEN;
  if (!token || !expected || !timingSafeEqualHex(await sha256Hex(token), await sha256Hex(expected))) {
    throw new AppError("auth.unauthenticated");
  }
  await next();
};

/**
 * A request's key as the tenant's `openRun` takes it (src/control/tenant/open-on-shard.ts): checked
 * first for a sharded tenant, otherwise handed over once, so that call checks it.
 */
export function apiAuth(c: Context<AppEnv>): OpenAuth {
  return {
    verify: () => verifyKey(c),
    take: () => {
      const presented = c.get("credential");
      c.set("credential", undefined);
      return presented;
    },
  };
}
