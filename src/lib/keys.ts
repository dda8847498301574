/**
 * API key format: `frk_<tenantId>_<keyId>_<secret>`. The key names its tenant, so the API
 * authenticates against that tenant's own object and never a global one.
 */

export interface ApiKeyParts {
  tenantId: string;
  keyId: string;
  secret: string;
}

const KEY = /^frk_([a-z0-9][a-z0-9-]{1,39})_([0-9a-z]{12})_([0-9a-z]{40})$/;

export function parseApiKey(key: string): ApiKeyParts | null {
  const m = KEY.exec(key);
  return m ? { tenantId: m[1]!, keyId: m[2]!, secret: m[3]! } : null;
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `frk_${parts.tenantId}_${parts.keyId}_${parts.secret}`;
}

/** A worker token: `fwk_<pool>_<id>_<secret>`; it names its pool, and only that pool accepts it. */
const WORKER_TOKEN = /^fwk_([a-z]+)_([0-9a-z]{12})_([0-9a-z]{40})$/;

export function parseWorkerToken(token: string): { pool: string; id: string; secret: string } | null {
  const m = WORKER_TOKEN.exec(token);
  return m ? { pool: m[1]!, id: m[2]!, secret: m[3]! } : null;
}
