/** `factory approvals …`: the tenant's approval gates, and deciding one. */
import { type Command, type CommandGroup, defined, need } from "../context.ts";

const list: Command = async (ctx) => {
  const limit = ctx.flag("limit");
  const page = await ctx.client().approvals(
    defined({
      status: ctx.flag("status") as "pending" | "decided" | undefined,
      project: ctx.flag("project"),
      limit: limit ? Number(limit) : undefined,
    }),
  );
  const lines = page.items.map(
    (a) =>
      `${a.runId}  ${a.stepId.padEnd(16)} ${a.status.padEnd(9)} ${a.project.padEnd(16)} ${a.title}  (since ${a.requestedAt})`,
  );
  ctx.print(lines.join("\n") || "no approvals", page);
  return 0;
};

const decide =
  (decision: "approve" | "reject"): Command =>
  async (ctx, args) => {
    const [runId, stepId] = [need(args[0], "<run>"), need(args[1], "<step>")];
    const d = await ctx.client().decide(runId, stepId, decision, ctx.flag("comment"));
    const who = d.by.kind === "key" ? (d.by.name ?? d.by.keyId) : d.by.kind;
    ctx.print(`${d.runId} ${d.stepId}: ${d.decision} by ${who}${d.repeated ? " (earlier)" : ""}`, d);
    return 0;
  };

export const approvals: CommandGroup = {
  help: [
    "factory approvals list [--status pending|decided] [--project P] [--limit N]",
    "factory approvals approve|reject <run> <step> [--comment TEXT]",
  ],
  options: {
    status: { type: "string" },
    project: { type: "string" },
    limit: { type: "string" },
    comment: { type: "string" },
  },
  commands: { list, approve: decide("approve"), reject: decide("reject") },
};
