/**
 * The grammars of the ids and secrets the runtime issues, each defined once: the API's validators,
 * the key and token parsers and the objects that check a presented id all test against these.
 * The generators (src/lib/crypto.ts) make what they accept.
 */

/** A tenant id, chosen or generated: lowercase letters, digits and '-', 2 to 40, starting alphanumeric. */
const TENANT = "[a-z0-9][a-z0-9-]{1,39}";
/** A key's or token's id (newKeyId): 12 base32 characters. */
const KEY = "[0-9a-z]{12}";
/** A secret (newSecret): 40 base32 characters, 200 bits from the CSPRNG. */
const SECRET = "[0-9a-z]{40}";

const whole = (grammar: string) => new RegExp(`^${grammar}$`);

export const TENANT_ID = whole(TENANT);
/** A project, a step or a name the caller chooses: letters, digits, '_', '.', '-'; at most 64. */
export const PROJECT_ID = whole("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
/** `run_` + 10 characters of time + 16 random, so ids sort by creation time (newRunId). */
export const RUN_ID = whole("run_[0-9a-z]{26}");
/** An API key's or a worker token's id, as named in admin paths. */
export const KEY_ID = whole(KEY);
export const WEBHOOK_ID = whole(`wh_${KEY}`);
/** A pool's lease id: a bearer secret, bound to the token that took it. */
export const LEASE_ID = whole(`lse_${SECRET}`);
/**
 * An API key, `frk_<tenantId>_<keyId>_<secret>[_<mac>]`: it names its tenant. Groups: tenant, key
 * id, secret, and the MAC over tenant and key id (keys made before KEY_MAC_KEY have none).
 */
export const API_KEY = whole(`frk_(${TENANT})_(${KEY})_(${SECRET})(?:_([0-9a-f]{20}))?`);
/** A worker token, `fwk_<pool>_<id>_<secret>`: it names its pool. Groups: pool, id, secret. */
export const WORKER_TOKEN = whole(`fwk_([a-z]+)_(${KEY})_(${SECRET})`);
/** A tenant's worker token, `fwt_<tenant>_<pool>_<id>_<secret>` (issue 27). Groups: tenant, pool, id, secret. */
export const TENANT_WORKER_TOKEN = whole(`fwt_(${TENANT})_([a-z][a-z0-9-]{0,39})_(${KEY})_(${SECRET})`);
