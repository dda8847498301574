/** Where the tenant directory keeps a tenant (kept apart from the object so the API can import it in Node). */
import { shardOf } from "../../../schema/pools";
import type { Env } from "../../env";

export const DIRECTORY_SHARDS = 8;

/** The shard that lists a tenant: FNV-1a of its id. */
export function directoryShard(tenantId: string): string {
  return `shard-${shardOf(tenantId, DIRECTORY_SHARDS)}`;
}

/** Every tenant in the directory, from all shards. */
export async function allTenants(env: Env): Promise<string[]> {
  const shards = await Promise.all(
    Array.from({ length: DIRECTORY_SHARDS }, (_, i) => env.DIRECTORY.getByName(`shard-${i}`).list()),
  );
  return shards.flat().sort();
}
