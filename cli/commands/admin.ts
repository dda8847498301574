/** `factory admin …`: a tenant's limits, scanning, retention and purge, with the admin token. */
import type { PurgeProgress, RetentionPolicy, ScanSettings } from "@factory-runtime/client";
import { type Command, type CommandGroup, need, UsageError, wholeNumber } from "../context.ts";
import { retentionLines } from "../format.ts";

const scanning: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const tenant = need(args[0], "<tenant>");
  const policy = ctx.flag("policy");
  const project = ctx.flag("project");
  let settings: ScanSettings;
  if (policy) {
    if (policy !== "block" && policy !== "warn") throw new UsageError("--policy is block or warn");
    settings = await c.setScanPolicy(tenant, project ? { projects: { [project]: policy } } : { policy });
  } else settings = await c.scanSettings(tenant);
  const projects = Object.entries(settings.projects).map(([p, v]) => `\n  ${p}: ${v}`);
  ctx.print(`default: ${settings.policy}${projects.join("")}`, settings);
  return 0;
};

/** Each limit and the flag that sets it. */
const LIMIT_FLAGS = [
  ["shards", "shards"],
  ["monthlyRuns", "monthly-runs"],
  ["maxConcurrentRuns", "max-concurrent-runs"],
  ["requestsPerMinute", "requests-per-minute"],
] as const;

const limits: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const tenant = need(args[0], "<tenant>");
  const given = Object.fromEntries(
    LIMIT_FLAGS.filter(([, flag]) => ctx.flag(flag) !== undefined).map(([limit, flag]) => [
      limit,
      wholeNumber(ctx.flag(flag), `--${flag}`),
    ]),
  );
  const t = Object.keys(given).length > 0 ? await c.updateTenant(tenant, { limits: given }) : await c.tenant(tenant);
  const l = t.limits;
  ctx.print(
    `${t.id} (${t.status}, weight ${t.weight}): shards ${l.shards ?? 1} · ${l.maxConcurrentRuns} concurrent runs · ${l.requestsPerMinute} requests/min · ${l.monthlyRuns} runs/month`,
    t,
  );
  return 0;
};

const allow: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const allowed = await c.allowFingerprint(need(args[0], "<tenant>"), {
    project: need(ctx.flag("project"), "--project"),
    fingerprint: need(ctx.flag("fingerprint"), "--fingerprint"),
    reason: need(ctx.flag("reason"), "--reason"),
  });
  ctx.print(`accepted ${allowed.fingerprint} in ${allowed.project}`, allowed);
  return 0;
};

const retention: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const tenant = need(args[0], "<tenant>");
  const policy = ctx.flag("policy-json");
  const settings = policy
    ? await c.setRetention(tenant, JSON.parse(policy) as RetentionPolicy)
    : await c.tenantRetention(tenant);
  ctx.print(retentionLines(settings), settings);
  return 0;
};

const deleteTenant: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const tenant = need(args[0], "<tenant>");
  const progress = await c.deleteTenant(tenant, {
    reason: need(ctx.flag("reason"), "--reason"),
    requestedBy: need(ctx.flag("requested-by"), "--requested-by"),
  });
  ctx.print(
    `purging ${tenant}: suspended; phase ${progress.phase} (follow with: factory admin purge ${tenant})`,
    progress,
  );
  return 0;
};

const counts = (n: PurgeProgress["counts"]) =>
  `${n.runs} runs (${n.activeRunsCancelled} cancelled), ${n.r2Keys} R2 keys, ${n.webhooks} webhooks, ${n.keys} keys`;

const purge: Command = async (ctx, args) => {
  const c = ctx.adminClient();
  const tenant = need(args[0], "<tenant>");
  const { underWay, audit } = await c.tenantPurge(tenant);
  ctx.print(
    underWay
      ? `purging ${tenant}: phase ${underWay.phase}; so far ${counts(underWay.counts)}`
      : audit?.finishedAt && audit.counts
        ? `purged ${tenant} at ${audit.finishedAt} (asked by ${audit.requestedBy}: ${audit.reason}): ${counts(audit.counts)}`
        : `no purge of ${tenant}`,
    { underWay, audit },
  );
  return 0;
};

export const admin: CommandGroup = {
  help: [
    "factory admin scanning <tenant> [--policy block|warn] [--project P]   (admin token: --key or FACTORY_ADMIN_TOKEN)",
    "factory admin allow <tenant> --project P --fingerprint fp_… --reason TEXT",
    `factory admin retention <tenant> [--policy-json '{"runHotSeconds":86400,"projects":{…}}']   show or set`,
    "factory admin delete-tenant <tenant> --reason TEXT --requested-by WHO   purge: suspended at once, deleted in the background",
    "factory admin purge <tenant>                 a purge's progress, or its audit record once done",
    "factory admin limits <tenant> [--shards N] [--monthly-runs N] [--max-concurrent-runs N] [--requests-per-minute N]",
  ],
  options: {
    project: { type: "string" },
    policy: { type: "string" },
    fingerprint: { type: "string" },
    reason: { type: "string" },
    shards: { type: "string" },
    "monthly-runs": { type: "string" },
    "max-concurrent-runs": { type: "string" },
    "requests-per-minute": { type: "string" },
    "policy-json": { type: "string" },
    "requested-by": { type: "string" },
  },
  commands: { scanning, limits, allow, retention, "delete-tenant": deleteTenant, purge },
};
