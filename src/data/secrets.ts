/**
 * Resolving a step's `{ "$secret": … }` references, in the consumer, after its attempt has begun
 * (fenced): a stale or duplicate delivery never sees a value. Values are opened here and live only
 * in this attempt's memory; what the attempt reports is redacted before it leaves (./consumer.ts).
 */
import type { Env } from "../env";
import { NonRetryableError } from "../errors";
import { open, seal } from "../secrets/crypto";

/** The values of `names`, by name; a secret deleted since the run was created fails the step. */
export async function resolveSecrets(
  env: Env,
  tenantId: string,
  names: readonly string[],
): Promise<Map<string, string>> {
  const store = env.SECRETS.getByName(tenantId);
  const sealed = await store.take(names);
  const missing = names.filter((n) => !sealed.some((s) => s.name === n));
  if (missing.length > 0)
    throw new NonRetryableError("secret.not_found", `no secret named ${missing.map((n) => `'${n}'`).join(", ")}`);
  const values = new Map<string, string>();
  for (const s of sealed) {
    const { value, stale } = await open(env, tenantId, s);
    values.set(s.name, value);
    // Rotation: a value the previous key opened is sealed again under the current one.
    if (stale) await store.reseal(s, await seal(env, tenantId, s.name, value));
  }
  return values;
}
