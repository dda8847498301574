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
  const pools = Object.values(POOL_REGISTRY).filter((p) => p.binding !== null);

  it.each(pools)(
    "pool $name has a producer binding, a consumer with explicit settings, and a DLQ with a consumer",
    (pool) => {
      expect(config.queues.producers).toContainEqual(
        expect.objectContaining({ binding: pool.binding, queue: pool.queue }),
      );
      const consumer = config.queues.consumers?.find((c) => c.queue === pool.queue);
      expect(consumer).toBeDefined();
      for (const setting of [
        "max_batch_size",
        "max_batch_timeout",
        "max_retries",
        "retry_delay",
        "max_concurrency",
      ] as const) {
        expect(consumer?.[setting], `${pool.queue}.${setting}`).toBeTypeOf("number");
      }
      expect(consumer?.dead_letter_queue).toBe(pool.deadLetterQueue);
      expect(config.queues.consumers?.some((c) => c.queue === pool.deadLetterQueue)).toBe(true);
    },
  );

  it("every queue in wrangler.toml belongs to a declared pool or is the webhooks queue", () => {
    const declared = new Set<string>([...pools.flatMap((p) => [p.queue, p.deadLetterQueue]), ...WEBHOOK_QUEUES]);
    for (const c of config.queues.consumers ?? []) expect(declared, c.queue).toContain(c.queue);
  });

  it("binds all five Durable Objects (Breaker, Directory, Pool, Run, Tenant) with a SQLite migration, and R2", () => {
    expect(config.durable_objects.bindings.map((b) => b.class_name).sort()).toEqual([
      "BreakerObject",
      "DirectoryObject",
      "PoolObject",
      "RunObject",
      "TenantObject",
    ]);
    expect(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []).sort()).toEqual([
      "BreakerObject",
      "DirectoryObject",
      "PoolObject",
      "RunObject",
      "TenantObject",
    ]);
    expect(config.r2_buckets.map((b) => b.binding)).toEqual(["ARTIFACTS"]);
  });
});
