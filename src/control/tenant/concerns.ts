/**
 * The tenant object's concerns, wired once per instance: the books (each a table group and its
 * rules) and the concerns over them, each handed only what it uses. object.ts is the RPC facade
 * over these; a new per-tenant feature adds its book or concern here and its RPCs there.
 */
import { prices } from "../../analytics/prices";
import { Access } from "./access";
import { Admission } from "./admission";
import { ApprovalBook } from "./approvals";
import { ArtifactVersions } from "./artifacts";
import { BudgetBook } from "./budgets";
import { Deliveries } from "./deliveries";
import type { TenantHost } from "./host";
import { TenantProfile } from "./profile";
import { PurgeBook } from "./purge";
import { RetentionBook } from "./retention";
import { RunBook } from "./runs";
import { ScanningBook } from "./scanning";
import { ShardRing } from "./shard-ring";
import { Upkeep } from "./upkeep";

export type TenantConcerns = ReturnType<typeof wireConcerns>;

export function wireConcerns(host: TenantHost) {
  const { sql } = host;
  const profile = new TenantProfile(sql);
  const runs = new RunBook(sql);
  const approvals = new ApprovalBook(sql);
  const budgets = new BudgetBook(sql);
  const scanning = new ScanningBook(sql);
  const versions = new ArtifactVersions(sql);
  const retention = new RetentionBook(sql);
  const purges = new PurgeBook(sql);
  const access = new Access(host, profile);
  const ring = new ShardRing(host, {
    verdict: (project, now) => budgets.verdict(project, now),
    scanning: (project) => scanning.forRun(project),
  });
  const deliveries = new Deliveries(host, approvals, purges);
  /** Home sends the tenant's record, and its retention policy, to its shards. */
  const push = (tenant: Parameters<ShardRing["push"]>[0], resharded = false) =>
    ring.push(tenant, retention.policy(), resharded);
  const upkeep = new Upkeep(host, { profile, runs, retention, purges, ring, access, push });
  const admission = new Admission(host, {
    profile,
    runs,
    budgets,
    scanning,
    retention,
    versions,
    ring,
    prices: prices(host.env.PRICE_TABLE),
    announce: (crossings) => deliveries.announce(crossings),
    noteDeadline: (at) => upkeep.noteDeadline(at),
  });
  return {
    profile,
    runs,
    approvals,
    budgets,
    scanning,
    versions,
    retention,
    purges,
    access,
    ring,
    deliveries,
    upkeep,
    admission,
    push,
  };
}
