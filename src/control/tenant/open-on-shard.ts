/**
 * Opening a run on the right one of its tenant's shards (src/control/tenant/shards.ts).
 *
 * The isolate remembers each tenant's shard count from the tenant's own answers. A tenant it
 * knows as one shard (every tenant, at first) is asked exactly as before: one call to its object
 * that checks the key, too. A sharded tenant's key is checked through the isolate's key cache
 * (`verifyKey`: one call to home per lease of rate tokens, not per run) and the run opens on the
 * shard that owns its Idempotency-Key, or on a random one. A shard that is not the owner (the
 * count changed since the isolate learned it) writes nothing and names the count: the API asks
 * again, once.
 */
import type { Env } from "../../env";
import { AppError } from "../../errors";
import type { Credential, OpenedRun, OpenRunResult } from "./object";
import { owningShard, shardName } from "./shards";

const MAX_TENANTS = 10_000;
/** Tenants' shard counts as their objects last said (1 when absent). */
const known = new Map<string, number>();

function remember(tenantId: string, shards: number): void {
  if (shards <= 1) {
    known.delete(tenantId);
    return;
  }
  if (!known.has(tenantId) && known.size >= MAX_TENANTS) known.clear();
  known.set(tenantId, shards);
}

export type OpenedOnShard = { opened: Extract<OpenRunResult, { ok: true }>; shard: number };

/**
 * Who asks to open a run. The API defers its key check to the tenant's `openRun` (`take` hands
 * the credential over once) unless the tenant is sharded (`verify` checks it first). The
 * runtime's own callers (schedules, triggers) present no key: `verify` does nothing and `take`
 * answers undefined.
 */
export interface OpenAuth {
  verify(): Promise<void>;
  take(): Credential | undefined;
}

/** The runtime opening a run on a tenant's behalf (a schedule's fire, an event's trigger). */
export const INTERNAL_AUTH: OpenAuth = { verify: async () => undefined, take: () => undefined };

/** Opens the run on its shard; throws the tenant's refusal. */
export async function openOnShard(
  env: Env,
  tenantId: string,
  run: OpenedRun,
  idempotency: { key: string; bodyHash: string } | undefined,
  auth: OpenAuth,
): Promise<OpenedOnShard> {
  let shards = known.get(tenantId) ?? 1;
  // A reroute is answered at most twice: the count a shard names is the one home pushed.
  for (let round = 0; round < 3; round++) {
    if (shards > 1) await auth.verify();
    const shard = owningShard(idempotency?.key, shards, Math.floor(Math.random() * shards));
    // Taken once: the deferred check then happens in this call (a tenant known as one shard).
    const presented = auth.take();
    const opened = await env.TENANT.getByName(shardName(tenantId, shard)).openRun(run, idempotency, presented);
    if (opened.ok) {
      remember(tenantId, opened.shards ?? 1);
      return { opened, shard };
    }
    if ("reroute" in opened) {
      // The key was checked before the tenant said so: the next call needs no credential.
      remember(tenantId, opened.reroute);
      shards = opened.reroute;
      continue;
    }
    // A run without an Idempotency-Key that a spent shard refused may still fit in another's share.
    if (opened.code === "quota.exceeded" && !idempotency && shards > 1) {
      for (let i = 1; i < shards; i++) {
        const other = (shard + i) % shards;
        const retried = await env.TENANT.getByName(shardName(tenantId, other)).openRun(run, undefined, undefined);
        if (retried.ok) return { opened: retried, shard: other };
        if ("reroute" in retried || retried.code !== "quota.exceeded") break;
      }
    }
    throw AppError.from(opened);
  }
  // Only if the count changed twice while one request was being routed: a server error, retryable.
  throw new Error(`tenant ${tenantId}: its shards did not agree on their count`);
}
