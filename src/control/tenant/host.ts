/**
 * What every concern of a tenant object shares: its storage, environment, name and one alarm.
 * The concerns (access.ts, admission.ts, deliveries.ts, shard-ring.ts, upkeep.ts) each hold their
 * own state and take this instead of the object, so none of them imports object.ts: the object
 * is a facade that imports them, never the other way round.
 */
import type { Env } from "../../env";
import type { Alarm } from "../alarms";

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

/** A stub of another of the tenant's objects (a shard, or home). */
export type TenantStub = ReturnType<Env["TENANT"]["getByName"]>;

export const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
