/**
 * API key format: `frk_<tenantId>_<keyId>_<secret>`. The key names its tenant, so the API
 * authenticates against that tenant's own object and never a global one.
 */
import { API_KEY, WORKER_TOKEN } from "../../schema/ids";

export interface ApiKeyParts {
  tenantId: string;
  keyId: string;
  secret: string;
}

export function parseApiKey(key: string): ApiKeyParts | null {
  const [, tenantId, keyId, secret] = API_KEY.exec(key) ?? [];
  return tenantId !== undefined && keyId !== undefined && secret !== undefined ? { tenantId, keyId, secret } : null;
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `frk_${parts.tenantId}_${parts.keyId}_${parts.secret}`;
}

/** A worker token: `fwk_<pool>_<id>_<secret>`; it names its pool, and only that pool accepts it. */
export function parseWorkerToken(token: string): { pool: string; id: string; secret: string } | null {
  const [, pool, id, secret] = WORKER_TOKEN.exec(token) ?? [];
  return pool !== undefined && id !== undefined && secret !== undefined ? { pool, id, secret } : null;
}
