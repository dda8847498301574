/**
 * `factory demo --deliver`: the demo microservice, delivered to a Git remote on this machine — a
 * bare repository served by `git http-backend` for as long as the command runs — through the same
 * `deliver.git` step and tenant secret a real remote would use (docs/delivery.md).
 */
import { randomBytes } from "node:crypto";
import { join, relative, resolve } from "node:path";
import type { FactoryClient } from "@factory-runtime/client";
import type { Context } from "../context.ts";
import { startGitRemote } from "../git-remote.ts";
import { watchToEnd } from "./runs.ts";

/** The secret the demo stores its remote's password in (replaced on each demo). */
const SECRET = "demo-git";

export async function deliverDemo(ctx: Context, c: FactoryClient, name: string): Promise<number> {
  const out = resolve("demo-output");
  // A fresh password per demo: the remote only lives while this command does.
  const password = randomBytes(24).toString("hex");
  const remote = await startGitRemote(join(out, "remote"), name, password);
  try {
    await c.putSecret(SECRET, password);
    ctx.out.write(`Serving ${remote.url} with git http-backend (Basic auth; password in secret '${SECRET}').\n`);
    ctx.out.write(`Generating '${name}' with the microservice blueprint and delivering it there…\n`);
    const run = await c.createRun({
      project: "demo",
      blueprint: "microservice",
      input: { name, deliver: { git: { url: remote.url, host: "git", secret: SECRET } } },
    });
    const code = await watchToEnd(ctx, c, run.id);
    if (code !== 0) return code;
    const done = await c.getRun(run.id);
    const pushed = done.steps.find((s) => s.id === "deliver")?.output as { branch: string; commitSha: string };
    const path = relative(process.cwd(), remote.path) || remote.path;
    ctx.out.write(
      `\nDelivered branch ${pushed.branch} at ${pushed.commitSha} to ${remote.url}\n` +
        `(the repository stays on disk at ${path}).\n` +
        `Clone it: git clone -b ${pushed.branch} ${path} ${name} && cd ${name} && npm install && npm test\n`,
    );
    return 0;
  } finally {
    await remote.close();
  }
}
