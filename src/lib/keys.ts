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
  const m = API_KEY.exec(key);
  return m ? { tenantId: m[1]!, keyId: m[2]!, secret: m[3]! } : null;
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `frk_${parts.tenantId}_${parts.keyId}_${parts.secret}`;
}

/** A worker token: `fwk_<pool>_<id>_<secret>`; it names its pool, and only that pool accepts it. */
export function parseWorkerToken(token: string): { pool: string; id: string; secret: string } | null {
  const m = WORKER_TOKEN.exec(token);
  return m ? { pool: m[1]!, id: m[2]!, secret: m[3]! } : null;
}
