/**
 * What every concern of a tenant object shares: its storage, environment, name and one alarm.
 * The concerns (access.ts, admission.ts, deliveries.ts, shard-ring.ts, upkeep.ts) each hold their
 * own state and take this instead of the object, so none of them imports object.ts: the object
 * is a facade that imports them, never the other way round.
 */
import type { Env } from "../../env";
import { Alarm } from "../alarms";
import { parseShardName } from "./shards";

export interface TenantHost {
  readonly sql: SqlStorage;
  readonly storage: DurableObjectStorage;
  readonly env: Env;
  /** The tenant's id: the object's name, less its shard suffix (shards.ts). */
  readonly tenantId: string;
  /** Which of the tenant's shards the object is: 0 for its own object (home). */
  readonly shard: number;
  readonly alarm: Alarm;
  /** Moves the alarm to the earliest thing any concern has due. */
  syncAlarm(): Promise<void>;
}

/**
 * The host of the object in `ctx`. `env` is read through to the object's own, so a test that swaps
 * the object's bindings after construction (a failing queue, say) reaches every concern.
 */
export function tenantHost(ctx: DurableObjectState, env: () => Env, syncAlarm: () => Promise<void>): TenantHost {
  const { tenantId, shard } = parseShardName(ctx.id.name ?? "");
  const alarm = new Alarm(ctx.storage);
  return {
    sql: ctx.storage.sql,
    storage: ctx.storage,
    tenantId,
    shard,
    alarm,
    syncAlarm,
    get env() {
      return env();
    },
  };
}

/** A stub of another of the tenant's objects (a shard, or home). */
export type TenantStub = ReturnType<Env["TENANT"]["getByName"]>;

export const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
