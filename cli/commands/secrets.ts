/** `factory secrets …`: a tenant's write-only secrets (docs/delivery.md). Values are read from stdin, never from argv. */
import { readFileSync } from "node:fs";
import type { CommandGroup } from "../context.ts";
import { need } from "../context.ts";

export const secrets: CommandGroup = {
  help: [
    "factory secrets list                         names and times, never values",
    "factory secrets put <name> < value.txt       create or replace (the value is read from stdin)",
    "factory secrets delete <name>",
  ],
  commands: {
    list: async (ctx) => {
      const items = await ctx.client().listSecrets();
      const lines = items.map(
        (s) => `${s.name.padEnd(32)} updated ${s.updatedAt}  last used ${s.lastUsedAt ?? "never"}`,
      );
      ctx.print(lines.join("\n") || "no secrets", { items });
      return 0;
    },
    put: async (ctx, args) => {
      const name = need(args[0], "<name>");
      // A value on the command line would land in shell history and `ps`: stdin only.
      const value = readFileSync(0, "utf8").replace(/\r?\n$/, "");
      const view = await ctx.client().putSecret(name, value);
      ctx.print(`stored ${view.name} (updated ${view.updatedAt})`, view);
      return 0;
    },
    delete: async (ctx, args) => {
      const name = need(args[0], "<name>");
      await ctx.client().deleteSecret(name);
      ctx.print(`deleted ${name}`, { name, deleted: true });
      return 0;
    },
  },
};
