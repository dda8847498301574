/**
 * Whether a tenant has its own OTLP collector, as this isolate last heard (docs/telemetry.md). A
 * new run carries the answer (its spans then go to the tenant's collector too), so a run asks
 * nothing at its end; and the answer is kept for `TTL_MS`, so starting runs costs at most one
 * call to the tenant's Secrets object per tenant and isolate every `TTL_MS`, not one per run.
 * A change made through this isolate is seen at once; through another, within `TTL_MS`.
 */
import type { Env } from "../../env";
import { logWarn } from "../../lib/log";

const TTL_MS = 30_000;
const MAX_TENANTS = 10_000;
const known = new Map<string, { has: boolean; until: number }>();

export async function tenantHasCollector(env: Env, tenantId: string, now = Date.now()): Promise<boolean> {
  const hit = known.get(tenantId);
  if (hit && hit.until > now) return hit.has;
  let has: boolean;
  try {
    has = (await env.SECRETS.getByName(tenantId).getCollector()) !== null;
  } catch (err) {
    // Tracing never refuses a run: unknown counts as none until the next look.
    logWarn("telemetry.collector_lookup_failed", { tenantId, error: String(err) });
    return hit?.has ?? false;
  }
  if (!known.has(tenantId) && known.size >= MAX_TENANTS) known.clear();
  known.set(tenantId, { has, until: now + TTL_MS });
  return has;
}

/** This isolate changed the tenant's collector: the next run asks again. */
export function collectorChanged(tenantId: string, has: boolean): void {
  known.set(tenantId, { has, until: Date.now() + TTL_MS });
}
