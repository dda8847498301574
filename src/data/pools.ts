/** The data plane's side of the pool registry (schema/pools.ts): which pool a delivered batch is for. */
import { POOL_REGISTRY, type PoolDeclaration } from "../../schema/pools";

/** Which pool a delivered batch belongs to (any of its shards), and whether it is a dead-letter queue. */
export function poolOfQueue(queueName: string): { pool: PoolDeclaration; deadLetter: boolean } | null {
  for (const pool of Object.values(POOL_REGISTRY)) {
    for (const shard of pool.shards) {
      if (queueName === shard.queue) return { pool, deadLetter: false };
      if (queueName === shard.deadLetterQueue) return { pool, deadLetter: true };
    }
  }
  return null;
}
