/**
 * API key format: `frk_<tenantId>_<keyId>_<secret>_<mac>`. The key names its tenant, so the API
 * authenticates against that tenant's own object and never a global one. The MAC (HMAC-SHA256
 * under the Worker secret KEY_MAC_KEY over tenant and key id, 80 bits) lets the Worker refuse a
 * key whose tenant or id was invented before it calls any object. Keys made before the MAC have
 * none and are checked by their tenant's object as before, until rotated (docs/security.md).
 */
import { hmac } from "fast-sha256";
import { API_KEY, TENANT_WORKER_TOKEN, WORKER_TOKEN } from "../../schema/ids";
import { toHex } from "./crypto";

export interface ApiKeyParts {
  tenantId: string;
  keyId: string;
  secret: string;
  /** Absent on a key made before keys carried one. */
  mac?: string;
}

export function parseApiKey(key: string): ApiKeyParts | null {
  const [, tenantId, keyId, secret, mac] = API_KEY.exec(key) ?? [];
  if (tenantId === undefined || keyId === undefined || secret === undefined) return null;
  return { tenantId, keyId, secret, ...(mac !== undefined ? { mac } : {}) };
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `frk_${parts.tenantId}_${parts.keyId}_${parts.secret}${parts.mac ? `_${parts.mac}` : ""}`;
}

const utf8 = new TextEncoder();

/** The MAC a key for this tenant and key id carries: 20 hex characters of HMAC-SHA256. */
export function keyMac(macKey: string, tenantId: string, keyId: string): string {
  return toHex(hmac(utf8.encode(macKey), utf8.encode(`api-key:v1:${tenantId}:${keyId}`))).slice(0, 20);
}

/** A worker token: `fwk_<pool>_<id>_<secret>`; it names its pool, and only that pool accepts it. */
/** A tenant's worker token, `fwt_<tenant>_<pool>_<id>_<secret>`: it names its tenant and pool. */
export function parseTenantWorkerToken(
  token: string,
): { tenantId: string; pool: string; id: string; secret: string } | null {
  const [, tenantId, pool, id, secret] = TENANT_WORKER_TOKEN.exec(token) ?? [];
  return tenantId !== undefined && pool !== undefined && id !== undefined && secret !== undefined
    ? { tenantId, pool, id, secret }
    : null;
}

export function parseWorkerToken(token: string): { pool: string; id: string; secret: string } | null {
  const [, pool, id, secret] = WORKER_TOKEN.exec(token) ?? [];
  return pool !== undefined && id !== undefined && secret !== undefined ? { pool, id, secret } : null;
}
