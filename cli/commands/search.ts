/**
 * Searching runs and changing many at once (issue 28): `factory runs list` with filters,
 * `factory runs cancel|retry|delete --tag … --yes` (a bulk operation), `factory operations …`.
 */
import type { BulkInput, OperationView, RunSearch } from "@factory-runtime/client";
import { type Command, type CommandGroup, type Context, need, UsageError } from "../context.ts";

/** The filter flags `runs list` and the bulk commands read. */
export const SEARCH_OPTIONS = {
  tag: { type: "string", multiple: true },
  status: { type: "string", multiple: true },
  meta: { type: "string", multiple: true },
  blueprint: { type: "string" },
  "requested-by": { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  "finished-since": { type: "string" },
  yes: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  reason: { type: "string" },
} as const;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `12h`, `30m`, `2w` back from now, or an ISO time, as an ISO time. */
export function since(text: string, now = Date.now()): string {
  const rel = /^(\d+)([mhdw])$/.exec(text);
  if (rel) return new Date(now - Number(rel[1]) * (UNITS[rel[2] as string] as number)).toISOString();
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new UsageError(`not a time or a duration like 7d: ${text}`);
  return new Date(t).toISOString();
}

const many = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : []);

/** The search the flags say (empty when none). */
export function searchFromFlags(ctx: Context): RunSearch {
  const q: RunSearch = {};
  const tags = many(ctx.flags.tag);
  const statuses = many(ctx.flags.status);
  if (tags.length) q.tag = tags;
  if (statuses.length) q.status = statuses as RunSearch["status"];
  for (const pair of many(ctx.flags.meta)) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`--meta takes key=value: ${pair}`);
    q.metadata = { ...q.metadata, [pair.slice(0, at)]: pair.slice(at + 1) };
  }
  const project = ctx.flag("project");
  const blueprint = ctx.flag("blueprint");
  const requestedBy = ctx.flag("requested-by");
  if (project) q.project = project;
  if (blueprint) q.blueprint = blueprint;
  if (requestedBy) q.requestedBy = requestedBy;
  const after = ctx.flag("since");
  const before = ctx.flag("until");
  const finished = ctx.flag("finished-since");
  if (after) q.createdAfter = since(after);
  if (before) q.createdBefore = since(before);
  if (finished) q.finishedAfter = since(finished);
  return q;
}

export const list: Command = async (ctx) => {
  const limit = ctx.flag("limit");
  const cursor = ctx.flag("cursor");
  const page = await ctx
    .client()
    .listRuns({ ...searchFromFlags(ctx), ...(limit ? { limit: Number(limit) } : {}), ...(cursor ? { cursor } : {}) });
  const lines = page.items.map(
    (r) =>
      `${r.id}  ${r.status.padEnd(9)}  ${r.project.padEnd(16)} ${r.blueprint ?? "(steps)"}  ${r.createdAt}` +
      (r.tags.length ? `  [${r.tags.join(" ")}]` : ""),
  );
  if (page.nextCursor && !ctx.flags.json) lines.push(`more: --cursor ${page.nextCursor}`);
  ctx.print(lines.join("\n") || "no runs", page);
  return 0;
};

export function operationLine(op: OperationView): string {
  const skipped = Object.entries(op.skippedReasons)
    .map(([why, n]) => `${n} ${why}`)
    .join(", ");
  return (
    `${op.id}  ${op.action} ${op.status}${op.dryRun ? " (dry run)" : ""}: matched ${op.matched}, done ${op.done}, ` +
    `skipped ${op.skipped}${skipped ? ` (${skipped})` : ""}, failed ${op.failed}, pending ${op.pending}`
  );
}

/** `runs cancel|retry|delete` with filter flags instead of a run: a bulk operation (needs --yes, or --dry-run). */
export function bulk(action: BulkInput["action"]): Command {
  return async (ctx) => {
    const {
      cursor: _c,
      limit: _l,
      createdAfter,
      createdBefore,
      finishedAfter,
      status,
      tag,
      ...rest
    } = searchFromFlags(ctx);
    const filter = {
      ...rest,
      ...(tag ? { tags: many(tag) } : {}),
      ...(status ? { status: many(status) as ("failed" | "cancelled")[] } : {}),
      ...(createdAfter ? { createdAfter } : {}),
      ...(createdBefore ? { createdBefore } : {}),
      ...(finishedAfter ? { finishedAfter } : {}),
    };
    if (Object.keys(filter).length === 0)
      throw new UsageError(`give a run, or filter flags (--tag, --status, --since …)`);
    const dryRun = ctx.flags["dry-run"] === true;
    if (!dryRun && ctx.flags.yes !== true)
      throw new UsageError(`${action} every matching run: add --yes (or --dry-run to count them)`);
    const reason = ctx.flag("reason");
    const op = await ctx.client().bulkRuns({ action, filter, dryRun, ...(reason ? { reason } : {}) });
    ctx.print(operationLine(op), op);
    return 0;
  };
}

export const operations: CommandGroup = {
  help: [
    "factory operations get <operation>           a bulk operation's progress",
    "factory operations stop <operation>          stop it: runs not yet changed stay as they are",
  ],
  commands: {
    get: async (ctx, args) => {
      const op = await ctx.client().getOperation(need(args[0], "<operation>"));
      ctx.print(operationLine(op), op);
      return 0;
    },
    stop: async (ctx, args) => {
      const op = await ctx.client().stopOperation(need(args[0], "<operation>"));
      ctx.print(operationLine(op), op);
      return 0;
    },
  },
};
