/** `factory artifacts …`: a run's artifacts (list, download) and a project's versions (list, diff, pin). */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { FactoryApiError, type FactoryClient } from "@factory-runtime/client";
import { type Command, type CommandGroup, need, UsageError, wholeNumber } from "../context.ts";
import { artifactLines } from "../format.ts";

/** Downloads a run's artifacts (or the one named) into `dir`, checking each one's sha256. */
export async function download(
  c: FactoryClient,
  runId: string,
  name: string | undefined,
  dir: string,
): Promise<string[]> {
  // A rejected artifact has no bytes: named, its download says why (409 with findings); unnamed, it is skipped.
  const items = (await c.artifacts(runId)).items.filter((a) => (name ? a.name === name : a.status !== "rejected"));
  if (name && items.length === 0)
    throw new FactoryApiError(404, {
      type: "about:blank",
      title: `No artifact named ${name}.`,
      status: 404,
      code: "artifact.not_found",
    });
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (const a of items) {
    const bytes = Buffer.from(await (await c.download(runId, a.name)).arrayBuffer());
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== a.sha256) throw new Error(`${a.name}: sha256 ${sha} does not match the manifest's ${a.sha256}`);
    const path = join(dir, a.name);
    writeFileSync(path, bytes);
    paths.push(path);
  }
  return paths;
}

const list: Command = async (ctx, args) => {
  const items = await ctx.client().artifacts(need(args[0], "<run>"));
  ctx.print(artifactLines(items.items) || "no artifacts", items);
  return 0;
};

const downloadCommand: Command = async (ctx, args) => {
  const paths = await download(ctx.client(), need(args[0], "<run>"), args[1], resolve(ctx.flag("out") ?? "."));
  ctx.print(paths.map((p) => `downloaded ${p}`).join("\n") || "no artifacts", { files: paths });
  return 0;
};

const versions: Command = async (ctx, args) => {
  const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
  const limit = ctx.flag("limit");
  const page = await ctx.client().artifactVersions(project, name, limit ? { limit: Number(limit) } : {});
  const lines = page.items.map(
    (v) =>
      `v${v.version}  ${v.status.padEnd(10)} ${v.publishedAt}  ${v.size} B  ${v.sha256.slice(0, 12)}  ` +
      `run ${v.lineage.runId} step ${v.lineage.stepId} (${v.lineage.jobType})${v.republished ? `  republished ${v.republished}×` : ""}`,
  );
  ctx.print(lines.join("\n") || "no versions", page);
  return 0;
};

const versionOf = (value: string | undefined, what: string) => {
  const n = Number(need(value, what));
  if (!Number.isInteger(n)) throw new UsageError("versions are integers");
  return n;
};

const diff: Command = async (ctx, args) => {
  const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
  const [version, against] = [versionOf(args[2], "<version>"), versionOf(args[3], "<against>")];
  const d = await ctx.client().artifactDiff(project, name, version, against);
  const lines = [
    `${name}: v${against} → v${version}`,
    ...d.added.map((f) => `+ ${f.path}  ${f.size} B`),
    ...d.removed.map((f) => `- ${f.path}  ${f.size} B`),
    ...d.changed.map((f) => `~ ${f.path}  ${f.sizeFrom} → ${f.sizeTo} B`),
    `${d.unchanged} unchanged`,
  ];
  ctx.print(lines.join("\n"), d);
  return 0;
};

const pin =
  (pinned: boolean): Command =>
  async (ctx, args) => {
    const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
    const v = await ctx
      .client()
      .pinVersion(project, name, wholeNumber(need(args[2], "<version>"), "a version"), pinned);
    ctx.print(
      `${name} v${v.version}: ${v.status}${v.pinned ? ", pinned" : v.expiresAt ? `, expires ${v.expiresAt}` : ""}`,
      v,
    );
    return 0;
  };

export const artifacts: CommandGroup = {
  help: [
    "factory artifacts list <run>                 status, scan and findings (rule, file, line; never the secret)",
    "factory artifacts download <run> [name] [-o DIR]",
    "factory artifacts versions <project> <name> [--limit N]   published versions, newest first, with lineage",
    "factory artifacts diff <project> <name> <version> <against>  files added, removed, changed (names and sizes)",
    "factory artifacts pin|unpin <project> <name> <version>",
  ],
  options: { out: { type: "string", short: "o" }, limit: { type: "string" } },
  commands: { list, download: downloadCommand, versions, diff, pin: pin(true), unpin: pin(false) },
};
