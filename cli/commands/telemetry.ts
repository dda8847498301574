/** `factory telemetry …`: the tenant's own OpenTelemetry collector (docs/telemetry.md). Header values are secrets, named by reference. */
import type { TelemetryView } from "@factory-runtime/client";
import type { CommandGroup } from "../context.ts";
import { need, UsageError } from "../context.ts";

/**
 * `--header NAME=SECRET`, repeatable: the header is sent with the value of the tenant's secret
 * SECRET (`factory secrets put SECRET`); a value never passes on the command line.
 */
export function parseHeaders(given: unknown): Record<string, { $secret: string }> {
  const values = Array.isArray(given) ? (given as string[]) : typeof given === "string" ? [given] : [];
  const headers: Record<string, { $secret: string }> = {};
  for (const v of values) {
    const at = v.indexOf("=");
    if (at <= 0 || at === v.length - 1) throw new UsageError(`--header wants NAME=SECRET, got '${v}'`);
    headers[v.slice(0, at).toLowerCase()] = { $secret: v.slice(at + 1) };
  }
  return headers;
}

const describe = (t: TelemetryView): string =>
  [
    `endpoint ${t.endpoint}  (updated ${t.updatedAt})`,
    ...Object.entries(t.headers).map(([name, ref]) => `  ${name}: secret ${ref.$secret}`),
  ].join("\n");

export const telemetry: CommandGroup = {
  help: [
    "factory telemetry get                        the tenant's own OTLP collector (header secrets by name)",
    "factory telemetry set <endpoint> [--header NAME=SECRET]…   send the tenant's spans there too",
    "factory telemetry delete                     stop sending to it (the deployment's collector still gets them)",
  ],
  options: {
    header: { type: "string", multiple: true },
  },
  commands: {
    get: async (ctx) => {
      const view = await ctx.client().getTelemetry();
      ctx.print(view ? describe(view) : "no collector of the tenant's own", view);
      return 0;
    },
    set: async (ctx, args) => {
      const endpoint = need(args[0], "<endpoint>");
      const view = await ctx.client().putTelemetry({ endpoint, headers: parseHeaders(ctx.flags.header) });
      ctx.print(`collector set: ${describe(view)}`, view);
      return 0;
    },
    delete: async (ctx) => {
      await ctx.client().deleteTelemetry();
      ctx.print("collector removed", { deleted: true });
      return 0;
    },
  },
};
