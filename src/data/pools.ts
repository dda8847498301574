/** The data plane's side of the pool registry (schema/pools.ts): which pool a delivered batch is for. */
import { POOL_REGISTRY, type PoolDeclaration } from "../../schema/pools";

/** Which pool a delivered batch belongs to, and whether it is that pool's dead-letter queue. */
export function poolOfQueue(queueName: string): { pool: PoolDeclaration; deadLetter: boolean } | null {
  for (const pool of Object.values(POOL_REGISTRY)) {
    if (!pool.binding) continue;
    if (queueName === pool.queue) return { pool, deadLetter: false };
    if (queueName === pool.deadLetterQueue) return { pool, deadLetter: true };
  }
  return null;
}
