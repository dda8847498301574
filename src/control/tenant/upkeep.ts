/**
 * A tenant object's upkeep: retention (the earliest deadline it keeps in memory, the alarm's
 * bounded sweeps: lifecycle.ts), what it holds, a run's deletion, and the tenant's purge (its
 * passes, and a sharded tenant's other shards' parts in it: purge.ts).
 */
import type { PurgeProgress, Tenant } from "../../../schema/tenants";
import { directoryShard } from "../directory/shards";
import { runStub } from "../run/stub";
import type { Access } from "./access";
import { earliest, type TenantHost } from "./host";
import { homeChecks, Lifecycle } from "./lifecycle";
import { type OtherShards, PURGE_RUN_BATCH, type PurgeBook, purgePass, purgeRunBatch } from "./purge";
import type { TenantProfile } from "./profile";
import type { RetentionBook } from "./retention";
import type { RunBook } from "./runs";
import { deleteRunRows } from "./run-deletion";
import { runCreations } from "./run-audit";
import type { ShardRing } from "./shard-ring";

type Held = { runStateBytes: number; archiveBytes: number; artifactBytes: number };

export class Upkeep {
  readonly lifecycle: Lifecycle;
  /**
   * The earliest retention deadline (lifecycle.ts), kept so that setting the alarm costs no query;
   * undefined until first needed in this object's lifetime, and again after a change it cannot follow.
   */
  private lifecycleDue: number | null | undefined;

  constructor(
    private readonly host: TenantHost,
    private readonly parts: {
      profile: TenantProfile;
      runs: RunBook;
      retention: RetentionBook;
      purges: PurgeBook;
      ring: ShardRing;
      access: Access;
      /** Home sends the tenant's record to its shards (shard-ring.ts `push`). */
      push(tenant: Tenant): Promise<void>;
    },
  ) {
    const { env, tenantId, sql } = host;
    this.lifecycle = new Lifecycle(
      sql,
      env.ARTIFACTS,
      tenantId,
      async (runId) => (await runStub(env, runId).get(tenantId))?.retriedAs ?? null,
      // A shard's runs' artifact versions and webhook deliveries live at home: one call a sweep batch (≤ 20 runs).
      async (runIds) => {
        if (host.shard === 0) return homeChecks(sql, tenantId, runIds);
        // Read before asking home: a run whose final sync is not here any more was settled at home.
        const unsettled = parts.ring.settlements.waiting(runIds);
        const checks = await env.TENANT.getByName(tenantId).retentionChecks(runIds);
        // Home cannot name the keys held by versions a run published until its final sync reaches
        // home (SETTLE_DELAY_MS, longer when home is slow): its deadlines wait for that.
        for (const id of unsettled) checks[id] = { held: checks[id]?.held ?? [], deliveryPending: true };
        return checks;
      },
      // Runs finished before retention get their archive timer under their project's policy now.
      (runId, project) => runStub(env, runId).backfillArchive(tenantId, parts.retention.forRun(project)),
    );
  }

  /** An object upgraded past retention has runs to backfill (archive-backfill.ts): its alarm does it. */
  async armBackfill(): Promise<void> {
    const backfill = this.lifecycle.backfillDue();
    if (backfill !== null && (this.host.alarm.dueAt ?? Number.POSITIVE_INFINITY) > backfill)
      await this.host.alarm.sync(backfill);
  }

  /** The earliest retention deadline, read once and then followed. */
  nextDue(): number | null {
    if (this.lifecycleDue === undefined) this.lifecycleDue = this.lifecycle.nextDue();
    return this.lifecycleDue;
  }

  /**
   * Called by a finished run once its archive is written to R2 and verified, before it empties its
   * object: the index keeps the run's summary, marked archived. False when the index has no such run.
   */
  async recordArchived(runId: string, archive: { at: number; bytes: number }): Promise<boolean> {
    const found = this.parts.runs.archived(runId, archive.at, archive.bytes, this.parts.retention.of("").archiveMs);
    // Its archive's deadline is new: read the earliest again.
    this.lifecycleDue = undefined;
    await this.host.syncAlarm();
    return found;
  }

  /** A new retention deadline: the alarm comes by then (earlier is harmless: the sweep finds nothing due). */
  async noteDeadline(at: number): Promise<void> {
    if (this.lifecycleDue !== undefined) this.lifecycleDue = earliest(this.lifecycleDue, at);
    const alarmAt = this.host.alarm.dueAt;
    if (alarmAt === null || alarmAt > at) await this.host.alarm.sync(at);
  }

  /** The alarm's retention: a bounded batch of what is due, if anything is; more due comes straight back. */
  async sweep(): Promise<void> {
    const due = this.nextDue();
    if (due !== null && due <= Date.now())
      this.lifecycleDue = (await this.lifecycle.sweep(Date.now())).more ? Date.now() : undefined;
  }

  /** What the tenant holds now: hot run state, archives and artifacts, in bytes, on every shard. */
  async storageHeld(): Promise<Held> {
    return this.parts.ring.merged(this.lifecycle.held(), (s) => s.storageHere(), sumHeld);
  }

  /** Forgets a deleted run (run-deletion.ts says what goes and what stays); false when it had no such run. */
  async deleteRun(runId: string): Promise<boolean> {
    // A sharded tenant's run is indexed on one of its shards (home does not know which): each forgets it.
    return this.parts.ring.merged(
      await this.deleteRunHere(runId),
      (s) => s.deleteRunHere(runId),
      (found) => found.some(Boolean),
    );
  }

  /** A shard's part of `deleteRun`: its index row and Idempotency-Keys of the run. */
  async deleteRunHere(runId: string): Promise<boolean> {
    // The run's creation was on the audit trail through its index row: the trail keeps it now.
    const [created] = runCreations(this.host.sql, { target: `run:${runId}`, limit: 0 });
    if (created) await this.host.env.AUDIT.getByName(this.host.tenantId).record(created);
    return this.host.storage.transactionSync(() => deleteRunRows(this.host.sql, runId));
  }

  /**
   * Starts purging the tenant: suspended at once (its keys are refused from this call on), the
   * rest done by the alarm in bounded passes. Null when there is no such tenant; a purge already
   * under way is left as it is and reported.
   */
  async requestPurge(reason: string, requestedBy: string): Promise<PurgeProgress | null> {
    const { profile, purges } = this.parts;
    if (!profile.get()) return null;
    const now = Date.now();
    if (!purges.purging) {
      this.host.storage.transactionSync(() => {
        profile.update({ status: "suspended" }, now);
        purges.begin(reason, requestedBy, now);
      });
      // A sharded tenant's shards refuse new runs from now on too.
      const suspended = profile.get();
      if (suspended) await this.parts.push(suspended);
    }
    await this.host.alarm.sync(now);
    return purges.progress();
  }

  /** A purge's pass (from the alarm); the last one reports to the directory and deletes everything. */
  async purgeStep(): Promise<void> {
    const { env, tenantId } = this.host;
    const pass = await purgePass(this.parts.purges, env, tenantId, Date.now, this.purgeShards());
    if (!pass.done) {
      await this.host.alarm.sync(Date.now() + pass.retryInMs);
      return;
    }
    const progress = this.parts.purges.progress();
    if (!progress) return;
    // The audit first: a kill after it and before deleteAll runs this again (the record stands).
    await env.DIRECTORY.getByName(directoryShard(tenantId)).purgeFinished(
      tenantId,
      { reason: progress.reason, requestedBy: progress.requestedBy, requestedAt: Date.parse(progress.requestedAt) },
      pass.counts,
    );
    // The object may live on in memory until evicted: its caches must not answer for the tenant.
    await this.parts.access.wipe();
  }

  /** Home's purge reaches a sharded tenant's other shards through these (purge.ts `OtherShards`). */
  private purgeShards(): OtherShards | undefined {
    const others = this.parts.ring.others();
    if (others.length === 0) return undefined;
    return {
      purgeRuns: async () => {
        const parts = await Promise.all(others.map((s) => s.purgeRunsHere()));
        return {
          runs: parts.reduce((n, p) => n + p.runs, 0),
          activeRunsCancelled: parts.reduce((n, p) => n + p.activeRunsCancelled, 0),
          left: parts.some((p) => p.left),
        };
      },
      wipe: async () => {
        await Promise.all(others.map((s) => s.wipeShard()));
      },
    };
  }

  /** A shard's part of its tenant's purge: a batch of the runs it indexes; `left` while any remain. */
  async purgeRunsHere(): Promise<{ runs: number; activeRunsCancelled: number; left: boolean }> {
    if (this.host.shard === 0) return { runs: 0, activeRunsCancelled: 0, left: false };
    const { purges } = this.parts;
    const batch = purges.runs(PURGE_RUN_BATCH);
    const purged = await purgeRunBatch(
      batch,
      this.host.env,
      this.host.tenantId,
      () => {},
      (runId) => purges.forgetRun(runId),
    );
    return { runs: purged.runs, activeRunsCancelled: purged.activeRunsCancelled, left: batch.length > 0 };
  }
}

function sumHeld(parts: Held[]): Held {
  return {
    runStateBytes: parts.reduce((n, p) => n + p.runStateBytes, 0),
    archiveBytes: parts.reduce((n, p) => n + p.archiveBytes, 0),
    artifactBytes: parts.reduce((n, p) => n + p.artifactBytes, 0),
  };
}
