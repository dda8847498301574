/**
 * Tenant secrets at rest: AES-256-GCM under a key derived (HKDF-SHA-256) from the Worker secret
 * SECRETS_KEY and the tenant's id, with the tenant and the secret's name as additional data, so a
 * ciphertext copied to another tenant or name does not decrypt. Sealing happens in the API's
 * Worker, opening in the consumer that runs the step: the Secrets object stores only ciphertext
 * and never holds the key.
 *
 * Rotation: set SECRETS_KEY to the new key and SECRETS_KEY_PREVIOUS to the old one. Values sealed
 * under the old key still open; each is re-sealed under the new key when a step next uses it (or
 * when it is written again). See docs/delivery.md.
 */
import type { SealedSecret } from "../../schema/secrets";
import type { Env } from "../env";
import { AppError } from "../errors";

const encoder = new TextEncoder();
const SALT = encoder.encode("factory-runtime/secrets/v1");

type KeyEnv = Pick<Env, "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">;

async function tenantKey(master: string, tenantId: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(master), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: encoder.encode(`tenant:${tenantId}`) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

const b64 = (bytes: ArrayBuffer | Uint8Array) => {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const b of view) s += String.fromCharCode(b);
  return btoa(s);
};
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const aad = (tenantId: string, name: string) => encoder.encode(`${tenantId}\n${name}`);

function currentKey(env: KeyEnv): string {
  // Without a key nothing can be sealed: refuse rather than store a value under a guessable key.
  if (!env.SECRETS_KEY) throw new AppError("secret.unconfigured");
  return env.SECRETS_KEY;
}

/** Seals a value under the current key. */
export async function seal(env: KeyEnv, tenantId: string, name: string, value: string): Promise<SealedSecret> {
  const key = await tenantKey(currentKey(env), tenantId);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad(tenantId, name) },
    key,
    encoder.encode(value),
  );
  return { name, iv: b64(iv), ciphertext: b64(ciphertext) };
}

/**
 * Opens a sealed value with the current key, else the previous one; `stale` says the previous
 * key opened it, so the caller re-seals it. A value neither opens is `secret.undecryptable`.
 */
export async function open(
  env: KeyEnv,
  tenantId: string,
  sealed: SealedSecret,
): Promise<{ value: string; stale: boolean }> {
  const keys = [env.SECRETS_KEY, env.SECRETS_KEY_PREVIOUS].filter((k): k is string => Boolean(k));
  for (const [i, master] of keys.entries()) {
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: unb64(sealed.iv), additionalData: aad(tenantId, sealed.name) },
        await tenantKey(master, tenantId),
        unb64(sealed.ciphertext),
      );
      return { value: new TextDecoder().decode(plain), stale: i > 0 };
    } catch {
      // The tag did not verify under this key: try the next one.
    }
  }
  throw new AppError(
    "secret.undecryptable",
    `secret '${sealed.name}' opens under neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS`,
  );
}
