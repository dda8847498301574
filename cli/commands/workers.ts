/**
 * `factory workers …` and `factory job-types …`: a tenant's own worker pools, their tokens and
 * live workers, and its job types with their versions (docs/external-workers.md). Changes need a
 * key with `workers:manage`.
 */
import { readFileSync } from "node:fs";
import type { CommandGroup } from "../context.ts";
import { need } from "../context.ts";

/** `gpu=a100,region=eu` as labels. */
function labels(text: string | undefined): Record<string, string> {
  if (!text) return {};
  return Object.fromEntries(
    text.split(",").map((pair) => {
      const [k, ...v] = pair.split("=");
      return [need(k?.trim() || undefined, "a label name"), v.join("=").trim()];
    }),
  );
}

export const workers: CommandGroup = {
  help: [
    "factory workers pools                        the tenant's pools",
    "factory workers create-pool <name> [--labels k=v,…]",
    "factory workers delete-pool <name>           refused while a job type routes to it",
    "factory workers token <pool>                 a new worker token (shown once)",
    "factory workers tokens <pool>                ids and times, never the secrets",
    "factory workers revoke <pool> <tokenId>",
    "factory workers list <pool>                  the pool's workers: labels, last seen, in flight, done",
  ],
  options: { labels: { type: "string" } },
  commands: {
    pools: async (ctx) => {
      const items = await ctx.client().listPools();
      const lines = items.map((p) => `${p.name.padEnd(40)} ${JSON.stringify(p.labels)}  created ${p.createdAt}`);
      ctx.print(lines.join("\n") || "no pools", { items });
      return 0;
    },
    "create-pool": async (ctx, args) => {
      const pool = await ctx.client().createPool({ name: need(args[0], "<name>"), labels: labels(ctx.flag("labels")) });
      ctx.print(`created pool ${pool.name}`, pool);
      return 0;
    },
    "delete-pool": async (ctx, args) => {
      const name = need(args[0], "<name>");
      await ctx.client().deletePool(name);
      ctx.print(`deleted pool ${name}`, { name, deleted: true });
      return 0;
    },
    token: async (ctx, args) => {
      const made = await ctx.client().createPoolToken(need(args[0], "<pool>"));
      ctx.print(`token ${made.id} (shown once, keep it secret):\n${made.token}`, made);
      return 0;
    },
    tokens: async (ctx, args) => {
      const items = await ctx.client().listPoolTokens(need(args[0], "<pool>"));
      const lines = items.map((t) => `${t.id}  created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ""}`);
      ctx.print(lines.join("\n") || "no tokens", { items });
      return 0;
    },
    revoke: async (ctx, args) => {
      const [pool, id] = [need(args[0], "<pool>"), need(args[1], "<tokenId>")];
      await ctx.client().revokePoolToken(pool, id);
      ctx.print(`revoked ${id}`, { pool, id, revoked: true });
      return 0;
    },
    list: async (ctx, args) => {
      const items = await ctx.client().listPoolWorkers(need(args[0], "<pool>"));
      const lines = items.map(
        (w) =>
          `${w.id.padEnd(24)} ${w.live ? "live " : "gone "} ${JSON.stringify(w.labels)}  in flight ${w.inFlight}` +
          `  completed ${w.completed}  failed ${w.failed}  last seen ${w.lastSeen}`,
      );
      ctx.print(lines.join("\n") || "no workers yet", { items });
      return 0;
    },
  },
};

export const jobTypes: CommandGroup = {
  help: [
    "factory job-types list                       each at its newest version",
    "factory job-types versions <name>            every version, newest first",
    "factory job-types create <file.json>         a job type or its next version (CreateJobTypeBody)",
  ],
  commands: {
    list: async (ctx) => {
      const items = await ctx.client().listJobTypes();
      const lines = items.map(
        (j) => `${j.name.padEnd(40)} v${j.version}  pool ${j.pool}  ${JSON.stringify(j.requires.labels)}`,
      );
      ctx.print(lines.join("\n") || "no job types", { items });
      return 0;
    },
    versions: async (ctx, args) => {
      const items = await ctx.client().jobTypeVersions(need(args[0], "<name>"));
      ctx.print(items.map((j) => `v${j.version}  pool ${j.pool}  created ${j.createdAt}`).join("\n"), { items });
      return 0;
    },
    create: async (ctx, args) => {
      const body = JSON.parse(readFileSync(need(args[0], "<file.json>"), "utf8"));
      const made = await ctx.client().createJobType(body);
      ctx.print(`created ${made.name} v${made.version}`, made);
      return 0;
    },
  },
};
