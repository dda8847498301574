/** Small crypto helpers over Web Crypto (workerd's, and Node's in tests). */

const encoder = new TextEncoder();

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Compares two hex digests without leaking where they differ. */
export function timingSafeEqualHex(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  if (x.byteLength !== y.byteLength) return false;
  return crypto.subtle.timingSafeEqual(x, y);
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lowercase

function randomBase32(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

/** A run id: `run_` + 10 chars of time + 16 random, so ids sort by creation time. */
export function newRunId(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `run_${time}${randomBase32(16)}`;
}

export const newKeyId = (): string => randomBase32(12);

/** 40 base32 chars: 200 bits from the CSPRNG. */
export const newSecret = (): string => randomBase32(40);

/** A W3C trace id: 32 lowercase hex, not all zero. */
export function newTraceId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The trace id of a valid `traceparent` header, or null. */
export function traceIdFrom(traceparent: string | undefined | null): string | null {
  const id = traceparent?.match(/^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/)?.[1];
  return id !== undefined && id !== "0".repeat(32) ? id : null;
}
