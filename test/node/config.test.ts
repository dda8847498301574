import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { POOL_REGISTRY } from "../../schema/pools";
import { WEBHOOK_QUEUES } from "../../src/webhooks/config";

interface Consumer {
  queue: string;
  max_batch_size?: number;
  max_batch_timeout?: number;
  max_retries?: number;
  retry_delay?: number;
  max_concurrency?: number;
  dead_letter_queue?: string;
}
/** The parts of wrangler's parsed config this test reads (its own types do not resolve here). */
interface Config {
  queues: { producers: { binding: string; queue: string }[]; consumers?: Consumer[] };
  durable_objects: { bindings: { class_name: string }[] };
  migrations: { new_sqlite_classes?: string[] }[];
  r2_buckets: { binding: string }[];
}

const config = unstable_readConfig({
  config: new URL("../../wrangler.toml", import.meta.url).pathname,
}) as unknown as Config;

describe("wrangler.toml agrees with the pool registry", () => {
  // External pools have no queue: their steps wait in a Pool object for HTTP workers.
  const shards = Object.values(POOL_REGISTRY).flatMap((pool) => pool.shards.map((shard) => ({ pool, ...shard })));
  const SETTINGS = ["max_batch_size", "max_batch_timeout", "max_retries", "retry_delay", "max_concurrency"] as const;
  const consumerOf = (queue: string) => config.queues.consumers?.find((c) => c.queue === queue);

  it.each(shards)(
    "$queue (pool $pool.name) has a producer binding, a consumer with explicit settings, and a DLQ with a consumer",
    (shard) => {
      expect(config.queues.producers).toContainEqual(
        expect.objectContaining({ binding: shard.binding, queue: shard.queue }),
      );
      const consumer = consumerOf(shard.queue);
      expect(consumer).toBeDefined();
      for (const setting of SETTINGS) expect(consumer?.[setting], `${shard.queue}.${setting}`).toBeTypeOf("number");
      expect(consumer?.dead_letter_queue).toBe(shard.deadLetterQueue);
      expect(consumerOf(shard.deadLetterQueue)).toBeDefined();
    },
  );

  it("the shards of a pool are consumed alike, and only declared shards take new steps", () => {
    for (const pool of Object.values(POOL_REGISTRY)) {
      expect(pool.activeShards).toBeGreaterThanOrEqual(pool.shards.length === 0 ? 0 : 1);
      expect(pool.activeShards).toBeLessThanOrEqual(pool.shards.length);
      const settings = pool.shards.map((shard) => SETTINGS.map((s) => consumerOf(shard.queue)?.[s]));
      for (const each of settings) expect(each, pool.name).toEqual(settings[0]);
    }
  });

  it("every queue in wrangler.toml belongs to a declared pool's shard or is the webhooks queue", () => {
    const declared = new Set<string>([...shards.flatMap((s) => [s.queue, s.deadLetterQueue]), ...WEBHOOK_QUEUES]);
    for (const c of config.queues.consumers ?? []) expect(declared, c.queue).toContain(c.queue);
    for (const p of config.queues.producers) expect(declared, p.queue).toContain(p.queue);
  });

  it("binds all twelve Durable Objects (Audit, Automation, Breaker, Debounce, Directory, Flow, Operations, Pool, Run, Secrets, Tenant, Workers) with a SQLite migration, and R2", () => {
    expect(config.durable_objects.bindings.map((b) => b.class_name).sort()).toEqual([
      "AuditObject",
      "AutomationObject",
      "BreakerObject",
      "DebounceObject",
      "DirectoryObject",
      "FlowObject",
      "OperationsObject",
      "PoolObject",
      "RunObject",
      "SecretsObject",
      "TenantObject",
      "WorkersObject",
    ]);
    expect(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []).sort()).toEqual([
      "AuditObject",
      "AutomationObject",
      "BreakerObject",
      "DebounceObject",
      "DirectoryObject",
      "FlowObject",
      "OperationsObject",
      "PoolObject",
      "RunObject",
      "SecretsObject",
      "TenantObject",
      "WorkersObject",
    ]);
    expect(config.r2_buckets.map((b) => b.binding)).toEqual(["ARTIFACTS"]);
  });
});
