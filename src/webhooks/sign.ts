/** Standard Webhooks signing, with the reference library (no hand-rolled HMAC). */
import { Webhook } from "standardwebhooks";

/** A new endpoint secret in the Standard Webhooks format: `whsec_` + base64 of 24 random bytes. */
export function newSigningSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;
}

/**
 * The three headers of a delivery. During a rotation's overlap every live secret signs, so a
 * receiver holding either the old or the new secret verifies it.
 */
export function signatureHeaders(
  eventId: string,
  payload: string,
  secrets: readonly string[],
  at: Date,
): Record<string, string> {
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(eventId, at, payload)).join(" "),
  };
}
