/**
 * The end of a run object's life: its archival (archive.ts) and its purge. Each spans R2 writes or
 * deletes and the object's storage, so they run one at a time, and each ends with no rows left.
 */
import { refuse, type Refusal } from "../../../schema/errors";
import type { RunRetention } from "../../../schema/retention";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import type { Env } from "../../env";
import { purgeRunObjects } from "../../artifacts/purge";
import type { Alarm } from "../alarms";
import { shardName } from "../tenant/shards";
import { archiveRun, backfillArchive, type ArchiveHost } from "./archive";
import type { OutboxSender } from "./outbox";
import type { RunStore } from "./store";

export interface LifecycleHost {
  store: RunStore;
  env: Env;
  storage: DurableObjectStorage;
  outbox: OutboxSender;
  alarmClock: Alarm;
  /** One transaction of the object's (its `mutate`). */
  mutate<T>(decide: () => T): T;
}

export class RunLifecycle {
  /** The archival or purge under way, if any: the next waits for it (`oneAtATime`). */
  private current: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: LifecycleHost) {}

  /**
   * Deletes the finished run of `tenantId` for good: its artifacts and archive in R2, then the
   * object's storage. Refused (`run.active`) while its events are not all handed to its tenant. The
   * rows go last, so a purge cut short is found and finished by the next call. Null: no such run
   * (checked after any archival under way, which may have emptied the object).
   */
  purge(tenantId: string): Promise<{ ok: true; deleted: number } | Refusal<"run.active"> | null> {
    return this.oneAtATime(async () => {
      const run = this.host.store.run();
      if (run?.tenant_id !== tenantId) return null;
      if (!TERMINAL_RUN_STATUSES.has(run.status)) return refuse("run.active");
      // Events held for their webhook batch go to the tenant now: the purge waits for nothing else.
      if (!(await this.drainOutbox()))
        return refuse("run.active", "The run is still handing its last events to its tenant; try again shortly.");
      const deleted = await purgeRunObjects(this.host.env.ARTIFACTS, run.tenant_id, run.id);
      await this.dropStorage();
      return { ok: true as const, deleted };
    });
  }

  /** The archive timer fired: archive the run (archive.ts). */
  async archive(now: number): Promise<void> {
    await this.oneAtATime(() => archiveRun(this.archiveHost(), now));
  }

  /** Sets the archive timer of a run that finished before retention; true when it had none and has one now. */
  async backfill(retention: RunRetention): Promise<boolean> {
    const { store, alarmClock, mutate } = this.host;
    const set = mutate(() => backfillArchive(store, retention, Date.now()));
    if (set) await alarmClock.sync(store.nextTimer());
    return set;
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const next = this.current.then(work, work);
    this.current = next.catch(() => undefined);
    return next;
  }

  private archiveHost(): ArchiveHost {
    const { store, env, alarmClock, mutate } = this.host;
    return {
      store,
      bucket: env.ARTIFACTS,
      retryAt: async (at) => {
        mutate(() => store.setTimer("archive", "run", at));
        await alarmClock.sync(store.nextTimer());
      },
      drainOutbox: () => this.drainOutbox(),
      // The tenant shard that indexed the run keeps its summary (src/control/tenant/shards.ts).
      recordArchived: (tenantId, runId, archive) =>
        env.TENANT.getByName(shardName(tenantId, store.run()?.tenant_shard ?? 0)).recordArchived(runId, archive),
      dropStorage: () => this.dropStorage(),
    };
  }

  /** Hands every event held for its webhook batch to the tenant now; true once the outbox is empty. */
  async drainOutbox(): Promise<boolean> {
    const { store, outbox, mutate } = this.host;
    if (!store.outboxEmpty()) mutate(() => store.setTimer("outbox", "webhooks", Date.now()));
    await outbox.settle();
    // Rows sent are deleted by the next transaction (outbox.ts): this one, or they would read as
    // unsent and put every archival off by ARCHIVE_RETRY_MS (seen as a flaky archive test in CI).
    if (!store.outboxEmpty()) mutate(() => undefined);
    return store.outboxEmpty();
  }

  /** Deletes the alarm and every row: the object holds no run from now on (a purge, an archival). */
  private async dropStorage(): Promise<void> {
    await this.host.storage.deleteAlarm();
    await this.host.storage.deleteAll();
    this.host.store.forgetAll();
    this.host.alarmClock.fired();
  }
}
