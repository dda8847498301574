/** `factory audit`: the tenant's audit trail (docs/audit.md), newest first. */
import { type Command, type CommandGroup, defined } from "../context.ts";
import type { AuditAction, AuditEntry } from "@factory-runtime/client";

const who = (e: AuditEntry): string => {
  const { kind, id, name } = e.actor;
  return name ? `${kind}:${name}` : id ? `${kind}:${id}` : kind;
};

const list: Command = async (ctx) => {
  const limit = ctx.flag("limit");
  const page = await ctx.client().audit(
    defined({
      action: ctx.flag("action") as AuditAction | undefined,
      actor: ctx.flag("actor"),
      target: ctx.flag("target"),
      since: ctx.flag("since"),
      until: ctx.flag("until"),
      cursor: ctx.flag("cursor"),
      limit: limit ? Number(limit) : undefined,
    }),
  );
  const lines = page.items.map(
    (e) => `${e.at}  ${e.action.padEnd(20)} ${who(e).padEnd(28)} ${e.target}${e.ip ? `  from ${e.ip}` : ""}`,
  );
  if (page.nextCursor) lines.push(`more: --cursor ${page.nextCursor}`);
  ctx.print(lines.join("\n") || "no audit entries", page);
  return 0;
};

export const audit: CommandGroup = {
  help: [
    "factory audit list [--action A] [--actor key|key:ID|admin|schedule:ID…] [--target T] [--since ISO] [--until ISO] [--limit N] [--cursor C]",
  ],
  options: {
    action: { type: "string" },
    actor: { type: "string" },
    target: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    cursor: { type: "string" },
    limit: { type: "string" },
  },
  commands: { list },
};
