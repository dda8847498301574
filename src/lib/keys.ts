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
  const [, tenantId, keyId, secret] = KEY.exec(key) ?? [];
  return tenantId !== undefined && keyId !== undefined && secret !== undefined ? { tenantId, keyId, secret } : null;
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `frk_${parts.tenantId}_${parts.keyId}_${parts.secret}`;
}

/** A worker token: `fwk_<pool>_<id>_<secret>`; it names its pool, and only that pool accepts it. */
const WORKER_TOKEN = /^fwk_([a-z]+)_([0-9a-z]{12})_([0-9a-z]{40})$/;

export function parseWorkerToken(token: string): { pool: string; id: string; secret: string } | null {
  const [, pool, id, secret] = WORKER_TOKEN.exec(token) ?? [];
  return pool !== undefined && id !== undefined && secret !== undefined ? { pool, id, secret } : null;
}
