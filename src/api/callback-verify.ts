/**
 * A callback URL's `verify`: the sender (a GitHub webhook, an Azure DevOps service hook) signs
 * the raw body with a secret both sides hold, and puts `sha256=<hex HMAC-SHA256>` in a header.
 * The secret's value is opened here, for this check only: never stored, returned or logged.
 */
import type { Env } from "../env";
import { AppError } from "../errors";
import { timingSafeEqualHex, toHex } from "../lib/crypto";
import { open } from "../secrets/crypto";

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/** Throws 401 `callback.bad_signature` unless `header` holds the HMAC of `body` under the tenant's secret. */
export async function checkSignature(
  env: Env,
  tenantId: string,
  verify: { header: string; secret: string },
  header: string | undefined,
  body: string,
): Promise<void> {
  const given = SIGNATURE.exec(header?.trim() ?? "")?.[1]?.toLowerCase();
  if (!given) throw new AppError("callback.bad_signature", `The ${verify.header} header must be sha256=<hex>.`);
  const [sealed] = await env.SECRETS.getByName(tenantId).take([verify.secret]);
  // A secret deleted since the run was made cannot vouch for anything.
  if (!sealed) throw new AppError("callback.bad_signature", "The secret the signature is checked with is gone.");
  const { value } = await open(env, tenantId, sealed);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(value),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const expected = toHex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  if (!timingSafeEqualHex(expected, given))
    throw new AppError("callback.bad_signature", `The ${verify.header} header does not match the body.`);
}
