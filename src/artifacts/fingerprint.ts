/**
 * Fingerprints of secrets: `fp_` + 32 hex digits of an HMAC-SHA256 of (rule id ‖ secret). A
 * fingerprint is shown to whoever reads a finding, so its key must not be known to them: it is
 * derived per tenant with HKDF from the Worker secret FINGERPRINT_KEY (v2). Until 2026-12 the key
 * was the public string `factory-artifact-fingerprint:v1:<tenantId>` (v1), which let anyone who
 * saw a fingerprint confirm a guessed secret offline; v1 is still computed, never shown, so that
 * an allow list holding v1 entries keeps accepting them (docs/security.md, "Second pass").
 */
import { NonRetryableError } from "../errors";

export interface Fingerprinter {
  /** The fingerprint findings and redactions show (v2). */
  current(ruleId: string, secret: string): Promise<string>;
  /** The first pass's fingerprint, only ever compared with allow-list entries. */
  legacy(ruleId: string, secret: string): Promise<string>;
}

const encoder = new TextEncoder();
const V2_SALT = encoder.encode("factory-fingerprint:v2");

/** `fp_` + the first 16 bytes of HMAC-SHA256(key, rule id ‖ NUL ‖ secret), in hex. */
async function mac(key: CryptoKey, ruleId: string, secret: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${ruleId}\0${secret}`)));
  let hex = "";
  for (const b of bytes.subarray(0, 16)) hex += b.toString(16).padStart(2, "0");
  return `fp_${hex}`;
}

const hmac = (raw: Uint8Array) =>
  crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

/** A tenant's v2 key: HKDF-SHA256(FINGERPRINT_KEY, salt "factory-fingerprint:v2", info tenant id). */
async function deriveKey(secret: string, tenantId: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: V2_SALT, info: encoder.encode(tenantId) },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
}

/**
 * Derived keys by (secret, tenant), so that redacting a step's text does not derive a key per
 * match. Bounded: an isolate serving many tenants starts over rather than growing.
 */
const keys = new Map<string, Promise<[CryptoKey, CryptoKey]>>();
const MAX_KEYS = 256;

/** A tenant's fingerprinter under the Worker's FINGERPRINT_KEY; refuses to fingerprint without one. */
export function fingerprinter(secret: string | undefined, tenantId: string): Fingerprinter {
  const pair = () => {
    if (!secret)
      throw new NonRetryableError(
        "artifact.scan_incomplete",
        "FINGERPRINT_KEY is not set: findings cannot be fingerprinted (wrangler secret put FINGERPRINT_KEY)",
      );
    const id = `${tenantId}\0${secret}`;
    let found = keys.get(id);
    if (!found) {
      if (keys.size >= MAX_KEYS) keys.clear();
      found = Promise.all([deriveKey(secret, tenantId), hmac(encoder.encode(legacySalt(tenantId)))]);
      keys.set(id, found);
    }
    return found;
  };
  return {
    current: async (ruleId, value) => mac((await pair())[0], ruleId, value),
    legacy: async (ruleId, value) => mac((await pair())[1], ruleId, value),
  };
}

/** The v1 key material (public): kept only to read allow lists written before v2. */
export const legacySalt = (tenantId: string) => `factory-artifact-fingerprint:v1:${tenantId}`;
