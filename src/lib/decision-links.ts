/**
 * Signed single-use decision links for approval gates: `approveUrl` and `rejectUrl`, issued to a
 * key holding approvals:grant (`GET …/steps/{stepId}/links`) or added at send time to the
 * `step.waiting` delivery of a webhook endpoint such a key flagged; never stored in an event. A token is its claims (tenant, run, step, decision, expiry, link id) and
 * their HMAC-SHA256 under DECISION_LINK_SECRET; it is redeemed once (the run records the link
 * id), and a changed byte makes it no token at all. Synchronous (fast-sha256, the HMAC that
 * standardwebhooks uses too), because the link is written into the event in the same transaction
 * as the wait, where WebCrypto's promises cannot be awaited.
 */
import { hmac } from "fast-sha256";

export type LinkDecision = "approve" | "reject";

export interface LinkClaims {
  tenantId: string;
  runId: string;
  stepId: string;
  decision: LinkDecision;
  /** Epoch ms after which the link answers 410. */
  expiresAt: number;
  /** Unique per link: what the run records when it is used. */
  linkId: string;
  /** The key the link was issued to (absent: sent to a flagged webhook endpoint, or minted before keys were named). */
  issuedTo?: string;
}

const utf8 = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

function fromB64url(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

const mac = (secret: string, payload: string): Uint8Array => hmac(utf8.encode(secret), utf8.encode(payload));

/** Constant time in the length of `a`. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (const [i, byte] of a.entries()) diff |= byte ^ (b[i] ?? 0);
  return diff === 0;
}

export function signLink(secret: string, claims: LinkClaims): string {
  const payload = b64url(utf8.encode(JSON.stringify(claims)));
  return `${payload}.${b64url(mac(secret, payload))}`;
}

/** The claims of a token this runtime signed, or null for anything else (tampered, truncated, foreign). */
export function readLink(secret: string, token: string): LinkClaims | null {
  const c = signedClaims<LinkClaims>(secret, token);
  if (!c) return null;
  const ok =
    typeof c.tenantId === "string" &&
    typeof c.runId === "string" &&
    typeof c.stepId === "string" &&
    (c.decision === "approve" || c.decision === "reject") &&
    typeof c.expiresAt === "number" &&
    typeof c.linkId === "string" &&
    (c.issuedTo === undefined || typeof c.issuedTo === "string");
  return ok ? (c as LinkClaims) : null;
}

const randomId = () => b64url(crypto.getRandomValues(new Uint8Array(12)));

/**
 * A signal step's callback URL: `POST` to it, with no API key, sends the signal the step waits
 * for (`name`) with the body. Signed like a decision link, under the same secret, with claims of
 * their own (`kind: "callback"`), so neither token passes for the other.
 */
export interface CallbackClaims {
  kind: "callback";
  tenantId: string;
  runId: string;
  stepId: string;
  name: string;
  expiresAt: number;
  /** The sender's signature to check (the step's `verify`): its header and the name of the secret (never its value). */
  verify?: { header: string; secret: string };
}

export function callbackUrl(secret: string, base: string, claims: Omit<CallbackClaims, "kind">): string {
  const payload = b64url(utf8.encode(JSON.stringify({ kind: "callback", ...claims })));
  return `${base.replace(/\/+$/, "")}/v1/callbacks/${payload}.${b64url(mac(secret, payload))}`;
}

/** The claims of a callback token this runtime signed, or null for anything else. */
export function readCallback(secret: string, token: string): CallbackClaims | null {
  const c = signedClaims<CallbackClaims>(secret, token);
  if (!c) return null;
  const ok =
    c.kind === "callback" &&
    typeof c.tenantId === "string" &&
    typeof c.runId === "string" &&
    typeof c.stepId === "string" &&
    typeof c.name === "string" &&
    typeof c.expiresAt === "number" &&
    (c.verify === undefined || (typeof c.verify?.header === "string" && typeof c.verify?.secret === "string"));
  return ok ? (c as CallbackClaims) : null;
}

/** A token's claims when this runtime signed it (payload.mac, nothing more), unchecked in shape; else null. */
function signedClaims<T>(secret: string, token: string): Partial<T> | null {
  const [payload, sig, extra] = token.split(".");
  if (!payload || !sig || extra !== undefined) return null;
  const given = fromB64url(sig);
  const raw = fromB64url(payload);
  if (!given || !raw || !sameBytes(given, mac(secret, payload))) return null;
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(raw));
    return claims !== null && typeof claims === "object" ? (claims as Partial<T>) : null;
  } catch {
    return null;
  }
}

/** The pair of links for a gate that waits until `expiresAt`; `base` is the public origin ("" for paths). */
export function decisionLinks(
  secret: string,
  base: string,
  gate: { tenantId: string; runId: string; stepId: string; expiresAt: number; issuedTo?: string },
): { approveUrl: string; rejectUrl: string } {
  const url = (decision: LinkDecision) =>
    `${base.replace(/\/+$/, "")}/v1/decisions/${signLink(secret, { ...gate, decision, linkId: `lnk_${randomId()}` })}`;
  return { approveUrl: url("approve"), rejectUrl: url("reject") };
}
