/** Where the tenant directory keeps a tenant (kept apart from the object so the API can import it in Node). */
import type { Env } from "../../env";

export const DIRECTORY_SHARDS = 8;

/** The shard that lists a tenant: FNV-1a of its id. */
export function directoryShard(tenantId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) h = Math.imul(h ^ tenantId.charCodeAt(i), 0x01000193) >>> 0;
  return `shard-${h % DIRECTORY_SHARDS}`;
}

/** Every tenant in the directory, from all shards. */
export async function allTenants(env: Env): Promise<string[]> {
  const shards = await Promise.all(
    Array.from({ length: DIRECTORY_SHARDS }, (_, i) => env.DIRECTORY.getByName(`shard-${i}`).list()),
  );
  return shards.flat().sort();
}
