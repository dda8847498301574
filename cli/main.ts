/**
 * `factory`: the runtime from a terminal or a CI job. Human output by default, `--json` for
 * scripts. Exit codes: 0 success, 1 a refused call or a run that did not succeed, 2 bad usage.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  FactoryApiError,
  FactoryClient,
  type ArtifactList,
  type PurgeProgress,
  type RetentionPolicy,
  type RetentionSettings,
  type RunView,
  type ScanSettings,
} from "../client/index.ts";
import { DEFAULT_URL, devKey, loadConfig, saveConfig } from "./config.ts";
import { watchRun } from "./watch.ts";
import { deliveryLines } from "./delivery.ts";
import { SECRETS_HELP, secretsCommand } from "./secrets.ts";

const HELP = `factory — Factory Runtime from the command line

  factory login [--url URL] (--key KEY | --dev)
  factory runs create <blueprint> --project P [--input file.json | --input-json JSON] [--priority high|normal|low] [--watch]
  factory runs create --steps file.json --project P [--watch]
  factory runs list [--project P] [--status S] [--limit N]
  factory runs get|watch|cancel|pause|resume|retry <run>
  factory runs delete <run>                    a finished run, now: its state, archive, artifacts, index row
  factory runs logs <run> [--follow]
  factory artifacts list <run>                 status, scan and findings (rule, file, line; never the secret)
  factory runs signal <run> <name> --data-json '{…}'
  factory approvals list [--status pending|decided] [--project P] [--limit N]
  factory approvals approve|reject <run> <step> [--comment TEXT]
  factory artifacts download <run> [name] [-o DIR]
  factory artifacts versions <project> <name> [--limit N]   published versions, newest first, with lineage
  factory artifacts diff <project> <name> <version> <against>  files added, removed, changed (names and sizes)
  factory admin scanning <tenant> [--policy block|warn] [--project P]   (admin token: --key or FACTORY_ADMIN_TOKEN)
  factory admin allow <tenant> --project P --fingerprint fp_… --reason TEXT
  factory admin retention <tenant> [--policy-json '{"runHotSeconds":86400,"projects":{…}}']   show or set
  factory admin delete-tenant <tenant> --reason TEXT --requested-by WHO   purge: suspended at once, deleted in the background
  factory admin purge <tenant>                 a purge's progress, or its audit record once done
  factory retention                            the tenant's retention policy
  factory artifacts pin|unpin <project> <name> <version>
  factory admin limits <tenant> [--shards N] [--monthly-runs N] [--max-concurrent-runs N] [--requests-per-minute N]
  factory usage [--from ISO] [--to ISO] [--group-by project|blueprint|day]
  factory budgets [--month YYYY-MM]
  factory breakers
  factory demo [--name NAME]
${SECRETS_HELP}

Options: --json (machine output), --url, --key (else FACTORY_URL / FACTORY_API_KEY, else factory login)`;

class UsageError extends Error {}

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: "boolean", default: false },
    url: { type: "string" },
    key: { type: "string" },
    dev: { type: "boolean", default: false },
    project: { type: "string" },
    input: { type: "string" },
    "input-json": { type: "string" },
    steps: { type: "string" },
    priority: { type: "string" },
    watch: { type: "boolean", default: false },
    status: { type: "string" },
    limit: { type: "string" },
    follow: { type: "boolean", default: false },
    out: { type: "string", short: "o" },
    from: { type: "string" },
    to: { type: "string" },
    "group-by": { type: "string" },
    month: { type: "string" },
    name: { type: "string" },
    policy: { type: "string" },
    fingerprint: { type: "string" },
    reason: { type: "string" },
    shards: { type: "string" },
    "monthly-runs": { type: "string" },
    "max-concurrent-runs": { type: "string" },
    "requests-per-minute": { type: "string" },
    "data-json": { type: "string" },
    comment: { type: "string" },
    "policy-json": { type: "string" },
    "requested-by": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

const out = process.stdout;
const print = (human: string, json: unknown) =>
  out.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);

function client(): FactoryClient {
  const config = loadConfig({ ...(flags.url ? { url: flags.url } : {}), ...(flags.key ? { key: flags.key } : {}) });
  if (!config) throw new UsageError("no API key: run `factory login`, or set FACTORY_API_KEY");
  return new FactoryClient({ baseUrl: config.url, apiKey: config.key });
}

const need = (value: string | undefined, what: string): string => {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
};

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

function summary(run: RunView): string {
  const took =
    run.startedAt && run.finishedAt ? ` in ${Date.parse(run.finishedAt) - Date.parse(run.startedAt)} ms` : "";
  const failed = run.steps.map((s) => (s.error ? `\n  ${s.id}: ${s.error.message} (${s.error.code})` : "")).join("");
  return `${run.id}  ${run.status}${took}  ${run.steps.length} steps  project ${run.project}${failed}`;
}

/** One artifact per line: name, status, size, and each finding as rule at file:line:column. */
function artifactLines(items: ArtifactList["items"]): string {
  return items
    .map((a) => {
      const scan = a.scan
        ? `  scanned ${a.scan.files} files${a.scan.state === "partial" ? " (partially)" : ""}, ${a.scan.findingsCount} finding(s)`
        : "";
      const findings = (a.scan?.findings ?? []).map(
        (f) => `\n    ${f.accepted ? "accepted " : ""}${f.ruleId} at ${f.file}:${f.line}:${f.column}  ${f.fingerprint}`,
      );
      return `${a.name}  ${a.status}${a.flagged ? " (flagged)" : ""}  ${a.size} B${scan}${findings.join("")}`;
    })
    .join("\n");
}

async function download(c: FactoryClient, runId: string, name: string | undefined, dir: string): Promise<string[]> {
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

/** A flag that must be a whole number. */
function wholeNumber(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} takes a whole number`);
  return n;
}

/** A tenant's limits and its secret-scanning settings, with the admin token (never a tenant key). */
async function adminCommand(command: string | undefined, args: string[]): Promise<number> {
  const token = flags.key ?? process.env.FACTORY_ADMIN_TOKEN;
  if (!token) throw new UsageError("admin commands need the admin token: --key or FACTORY_ADMIN_TOKEN");
  const url = flags.url ?? process.env.FACTORY_URL ?? loadConfig({})?.url ?? DEFAULT_URL;
  const c = new FactoryClient({ baseUrl: url, apiKey: token });
  const tenant = need(args[0], "<tenant>");
  if (command === "scanning") {
    let settings: ScanSettings;
    if (flags.policy) {
      if (flags.policy !== "block" && flags.policy !== "warn") throw new UsageError("--policy is block or warn");
      const policy: "block" | "warn" = flags.policy;
      settings = await c.setScanPolicy(tenant, flags.project ? { projects: { [flags.project]: policy } } : { policy });
    } else settings = await c.scanSettings(tenant);
    const projects = Object.entries(settings.projects).map(([p, v]) => `\n  ${p}: ${v}`);
    print(`default: ${settings.policy}${projects.join("")}`, settings);
    return 0;
  }
  if (command === "limits") {
    const limits = Object.fromEntries(
      (
        [
          ["shards", "shards"],
          ["monthlyRuns", "monthly-runs"],
          ["maxConcurrentRuns", "max-concurrent-runs"],
          ["requestsPerMinute", "requests-per-minute"],
        ] as const
      )
        .filter(([, flag]) => flags[flag] !== undefined)
        .map(([limit, flag]) => [limit, wholeNumber(flags[flag], flag)]),
    );
    const t = Object.keys(limits).length > 0 ? await c.updateTenant(tenant, { limits }) : await c.tenant(tenant);
    const l = t.limits;
    print(
      `${t.id} (${t.status}, weight ${t.weight}): shards ${l.shards ?? 1} · ${l.maxConcurrentRuns} concurrent runs · ${l.requestsPerMinute} requests/min · ${l.monthlyRuns} runs/month`,
      t,
    );
    return 0;
  }
  if (command === "allow") {
    const allowed = await c.allowFingerprint(tenant, {
      project: need(flags.project, "--project"),
      fingerprint: need(flags.fingerprint, "--fingerprint"),
      reason: need(flags.reason, "--reason"),
    });
    print(`accepted ${allowed.fingerprint} in ${allowed.project}`, allowed);
    return 0;
  }
  if (command === "retention") {
    const policy = flags["policy-json"];
    const settings = policy
      ? await c.setRetention(tenant, JSON.parse(policy) as RetentionPolicy)
      : await c.tenantRetention(tenant);
    print(retentionLines(settings), settings);
    return 0;
  }
  if (command === "delete-tenant") {
    const progress = await c.deleteTenant(tenant, {
      reason: need(flags.reason, "--reason"),
      requestedBy: need(flags["requested-by"], "--requested-by"),
    });
    print(
      `purging ${tenant}: suspended; phase ${progress.phase} (follow with: factory admin purge ${tenant})`,
      progress,
    );
    return 0;
  }
  if (command === "purge") {
    const { underWay, audit } = await c.tenantPurge(tenant);
    const counts = (n: PurgeProgress["counts"]) =>
      `${n.runs} runs (${n.activeRunsCancelled} cancelled), ${n.r2Keys} R2 keys, ${n.webhooks} webhooks, ${n.keys} keys`;
    print(
      underWay
        ? `purging ${tenant}: phase ${underWay.phase}; so far ${counts(underWay.counts)}`
        : audit?.finishedAt && audit.counts
          ? `purged ${tenant} at ${audit.finishedAt} (asked by ${audit.requestedBy}: ${audit.reason}): ${counts(audit.counts)}`
          : `no purge of ${tenant}`,
      { underWay, audit },
    );
    return 0;
  }
  throw new UsageError(`unknown admin command '${command ?? ""}'`);
}

const days = (seconds: number) => (seconds % 86_400 === 0 ? `${seconds / 86_400} d` : `${seconds} s`);

function retentionLines(r: RetentionSettings): string {
  const line = (label: string, p: RetentionSettings["policy"]) =>
    `${label.padEnd(20)} hot ${days(p.runHotSeconds)} · archive ${days(p.archiveSeconds)} · unpublished ${days(p.unpublishedArtifactSeconds)} · superseded ${days(p.supersededArtifactSeconds)}`;
  return [line("(tenant)", r.policy), ...Object.entries(r.projects).map(([p, v]) => line(p, v))].join("\n");
}

/** Watches a run to its end; exit code 0 only when it succeeded. */
async function watchToEnd(c: FactoryClient, runId: string): Promise<number> {
  const run = await watchRun(c, runId, { json: flags.json, out });
  if (flags.json) out.write(`${JSON.stringify(run)}\n`);
  else out.write(`${summary(run)}\n`);
  return run.status === "succeeded" ? 0 : 1;
}

async function main(): Promise<number> {
  const [group, command, ...args] = positionals;
  if (flags.help || !group) {
    out.write(`${HELP}\n`);
    return flags.help ? 0 : 2;
  }
  if (group === "login") {
    const key = flags.key ?? (flags.dev ? devKey() : null);
    if (!key) throw new UsageError("give --key KEY, or --dev in a project with .dev.vars");
    const url = flags.url ?? DEFAULT_URL;
    await new FactoryClient({ baseUrl: url, apiKey: key }).listRuns({ limit: 1 }); // proves the key works
    const path = saveConfig({ url, key });
    print(`Logged in to ${url}; saved to ${path} (mode 0600).`, { url, path });
    return 0;
  }
  if (group === "demo") return demo();
  if (group === "admin") return adminCommand(command, args);
  const c = client();
  if (group === "secrets") return secretsCommand(c, command, args, print);
  if (group === "usage") {
    const report = await c.usage({
      ...(flags.from ? { from: flags.from } : {}),
      ...(flags.to ? { to: flags.to } : {}),
      ...(flags["group-by"] ? { groupBy: flags["group-by"] as "project" | "blueprint" | "day" } : {}),
    });
    const rows = report.items.map(
      (r) =>
        `${r.key.padEnd(20)} ${String(r.runs).padStart(6)} runs ${String(r.succeeded).padStart(6)} ok ${String(r.failed).padStart(5)} failed ${String(r.steps).padStart(7)} steps ${(r.wallMs / 1000).toFixed(1).padStart(9)} s ${(r.artifactBytes / 1024).toFixed(0).padStart(8)} KiB  $${r.costUsd.toFixed(6)}`,
    );
    const held = report.storage;
    print(
      [
        `usage by ${report.groupBy}, ${report.from} → ${report.to}`,
        ...rows,
        `total $${report.totalCostUsd.toFixed(6)}`,
        `storage held now: run state ${(held.runStateBytes / 1024).toFixed(0)} KiB, archives ${(held.archiveBytes / 1024).toFixed(0)} KiB, artifacts ${(held.artifactBytes / 1024).toFixed(0)} KiB · $${held.monthlyCostUsd.toFixed(6)} a month`,
      ].join("\n"),
      report,
    );
    return 0;
  }
  if (group === "retention") {
    const settings = await c.retention();
    print(retentionLines(settings), settings);
    return 0;
  }
  if (group === "artifacts" && (command === "pin" || command === "unpin")) {
    const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
    const version = Number(need(args[2], "<version>"));
    if (!Number.isInteger(version)) throw new UsageError("a version is an integer");
    const v = await c.pinVersion(project, name, version, command === "pin");
    print(
      `${name} v${v.version}: ${v.status}${v.pinned ? ", pinned" : v.expiresAt ? `, expires ${v.expiresAt}` : ""}`,
      v,
    );
    return 0;
  }
  if (group === "artifacts" && command === "list") {
    const list = await c.artifacts(need(args[0], "<run>"));
    print(artifactLines(list.items) || "no artifacts", list);
    return 0;
  }
  if (group === "artifacts" && command === "versions") {
    const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
    const page = await c.artifactVersions(project, name, flags.limit ? { limit: Number(flags.limit) } : {});
    const lines = page.items.map(
      (v) =>
        `v${v.version}  ${v.status.padEnd(10)} ${v.publishedAt}  ${v.size} B  ${v.sha256.slice(0, 12)}  ` +
        `run ${v.lineage.runId} step ${v.lineage.stepId} (${v.lineage.jobType})${v.republished ? `  republished ${v.republished}×` : ""}`,
    );
    print(lines.join("\n") || "no versions", page);
    return 0;
  }
  if (group === "artifacts" && command === "diff") {
    const [project, name] = [need(args[0], "<project>"), need(args[1], "<name>")];
    const [version, against] = [Number(need(args[2], "<version>")), Number(need(args[3], "<against>"))];
    if (!Number.isInteger(version) || !Number.isInteger(against)) throw new UsageError("versions are integers");
    const d = await c.artifactDiff(project, name, version, against);
    print(
      [
        `${name}: v${against} → v${version}`,
        ...d.added.map((f) => `+ ${f.path}  ${f.size} B`),
        ...d.removed.map((f) => `- ${f.path}  ${f.size} B`),
        ...d.changed.map((f) => `~ ${f.path}  ${f.sizeFrom} → ${f.sizeTo} B`),
        `${d.unchanged} unchanged`,
      ].join("\n"),
      d,
    );
    return 0;
  }
  if (group === "budgets") {
    const report = await c.budgets(flags.month ? { month: flags.month } : {});
    const lines = [...(report.tenant ? [report.tenant] : []), ...report.projects];
    print(
      lines.length === 0
        ? `no budget set for ${report.month}`
        : [
            `budgets, ${report.month} (when spent: ${report.policy?.onExceeded}; applies now: ${report.action})`,
            ...lines.map(
              (l) =>
                `${(l.project ?? "(tenant)").padEnd(20)} ${meter(l.spentUsd / Math.max(l.limitUsd, Number.EPSILON))} $${l.spentUsd.toFixed(6)} of $${l.limitUsd} · committed $${l.committedUsd.toFixed(6)} · forecast $${l.forecastUsd.toFixed(6)} · crossed ${l.thresholdsCrossed.map((t) => `${Math.round(t * 100)}%`).join(", ") || "none"}`,
            ),
          ].join("\n"),
      report,
    );
    return 0;
  }
  if (group === "breakers") {
    const { breakers } = await c.metrics();
    print(
      breakers.length === 0
        ? "no circuit breaker has changed state"
        : breakers
            .map((b) => {
              const last = b.transitions[0];
              return `${b.state.padEnd(9)} ${b.name}${last ? `  (${last.from} → ${last.to} at ${last.at}: ${last.reason})` : ""}`;
            })
            .join("\n"),
      breakers,
    );
    return 0;
  }
  if (group === "artifacts" && command === "download") {
    const paths = await download(c, need(args[0], "<run>"), args[1], resolve(flags.out ?? "."));
    print(paths.map((p) => `downloaded ${p}`).join("\n") || "no artifacts", { files: paths });
    return 0;
  }
  if (group === "approvals") return approvals(c, command, args);
  if (group !== "runs") throw new UsageError(`unknown command '${group}'`);
  switch (command) {
    case "create": {
      const body = flags.steps
        ? { project: need(flags.project, "--project"), steps: readJson(flags.steps) }
        : {
            project: need(flags.project, "--project"),
            blueprint: need(args[0], "<blueprint>"),
            input: flags.input ? readJson(flags.input) : flags["input-json"] ? JSON.parse(flags["input-json"]) : {},
          };
      const run = await c.createRun({
        ...(body as { project: string }),
        ...(flags.priority ? { priority: flags.priority as "high" } : {}),
      });
      if (flags.watch) return watchToEnd(c, run.id);
      print(`${run.id}  ${run.status}`, run);
      return 0;
    }
    case "list": {
      const page = await c.listRuns({
        ...(flags.project ? { project: flags.project } : {}),
        ...(flags.status ? { status: flags.status as "running" } : {}),
        ...(flags.limit ? { limit: Number(flags.limit) } : {}),
      });
      print(
        page.items
          .map(
            (r) =>
              `${r.id}  ${r.status.padEnd(9)}  ${r.project.padEnd(16)} ${r.blueprint ?? "(steps)"}  ${r.createdAt}`,
          )
          .join("\n") || "no runs",
        page,
      );
      return 0;
    }
    case "get": {
      const run = await c.getRun(need(args[0], "<run>"));
      print(
        [
          summary(run),
          ...run.steps.map(
            (s) =>
              `  ${s.id.padEnd(24)} ${s.status.padEnd(9)} attempts ${s.attempts}${s.durationMs !== null ? `  ${s.durationMs} ms` : ""}`,
          ),
          ...deliveryLines(run),
        ].join("\n"),
        run,
      );
      return run.status === "failed" ? 1 : 0;
    }
    case "watch":
      return watchToEnd(c, need(args[0], "<run>"));
    case "cancel":
    case "pause":
    case "resume": {
      const run = await c.control(need(args[0], "<run>"), command);
      print(`${run.id}  ${run.status}`, run);
      return 0;
    }
    case "delete": {
      const runId = need(args[0], "<run>");
      await c.deleteRun(runId);
      print(`${runId}  deleted`, { id: runId, deleted: true });
      return 0;
    }
    case "retry": {
      const run = await c.retry(need(args[0], "<run>"));
      print(`${run.id}  ${run.status}  (retry of ${run.retryOf})`, run);
      return 0;
    }
    case "logs": {
      const runId = need(args[0], "<run>");
      const line = (e: { occurredAt: string; type: string; stepId?: string; data: unknown }) =>
        flags.json
          ? JSON.stringify(e)
          : `${e.occurredAt}  ${e.type.padEnd(20)} ${e.stepId ?? ""}  ${JSON.stringify(e.data)}`;
      if (flags.follow) {
        for await (const e of c.follow(runId)) out.write(`${line(e)}\n`);
        return 0;
      }
      for (let after = 0; ; ) {
        const page = await c.events(runId, { after, limit: 1000 });
        for (const e of page.items) out.write(`${line(e)}\n`);
        if (page.nextAfter === null) return 0;
        after = page.nextAfter;
      }
    }
    case "signal": {
      const [runId, name] = [need(args[0], "<run>"), need(args[1], "<name>")];
      const receipt = await c.signal(runId, name, JSON.parse(need(flags["data-json"], "--data-json")));
      const consumed = receipt.consumedBy.length
        ? `completed ${receipt.consumedBy.join(", ")}`
        : "kept until a step waits";
      print(`signal ${name} ${receipt.repeated ? "already received" : "received"}: ${consumed}`, receipt);
      return 0;
    }
    default:
      throw new UsageError(`unknown command 'runs ${command ?? ""}'`);
  }
}

/** `factory approvals list|approve|reject`. */
async function approvals(c: FactoryClient, command: string | undefined, args: string[]): Promise<number> {
  if (command === "list") {
    const page = await c.approvals({
      ...(flags.status ? { status: flags.status as "pending" | "decided" } : {}),
      ...(flags.project ? { project: flags.project } : {}),
      ...(flags.limit ? { limit: Number(flags.limit) } : {}),
    });
    print(
      page.items
        .map(
          (a) =>
            `${a.runId}  ${a.stepId.padEnd(16)} ${a.status.padEnd(9)} ${a.project.padEnd(16)} ${a.title}  (since ${a.requestedAt})`,
        )
        .join("\n") || "no approvals",
      page,
    );
    return 0;
  }
  if (command === "approve" || command === "reject") {
    const decision = await c.decide(need(args[0], "<run>"), need(args[1], "<step>"), command, flags.comment);
    const who = decision.by.kind === "key" ? (decision.by.name ?? decision.by.keyId) : decision.by.kind;
    print(
      `${decision.runId} ${decision.stepId}: ${decision.decision} by ${who}${decision.repeated ? " (earlier)" : ""}`,
      decision,
    );
    return 0;
  }
  throw new UsageError(`unknown command 'approvals ${command ?? ""}'`);
}

/** `factory demo`: a microservice run against the local runtime, watched, then downloaded. */
async function demo(): Promise<number> {
  const key = flags.key ?? process.env.FACTORY_API_KEY ?? devKey();
  if (!key) throw new UsageError("no dev key: run `npm start` once in this project (it creates .dev.vars)");
  const c = new FactoryClient({ baseUrl: flags.url ?? process.env.FACTORY_URL ?? DEFAULT_URL, apiKey: key });
  const name = flags.name ?? "demo-api";
  out.write(`Generating '${name}' with the microservice blueprint…\n`);
  const run = await c.createRun({ project: "demo", blueprint: "microservice", input: { name } });
  const code = await watchToEnd(c, run.id);
  if (code !== 0) return code;
  const [zip] = await download(c, run.id, `${name}.zip`, resolve("demo-output"));
  out.write(`\nDone: ${zip}\nTry it: cd demo-output && unzip ${name}.zip && cd ${name} && npm install && npm test\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`factory: ${err.message}\n\n${HELP}\n`);
      process.exit(2);
    }
    if (err instanceof FactoryApiError) {
      const p = err.problem;
      const fields = (p.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join("");
      process.stderr.write(
        flags.json
          ? `${JSON.stringify(p)}\n`
          : `error: ${p.title} (${p.code})${p.detail ? `\n${p.detail}` : ""}${fields}\n`,
      );
      process.exit(1);
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

/** A 20-character bar of a fraction (over 1: full, marked). */
function meter(fraction: number): string {
  const filled = Math.max(0, Math.min(20, Math.round(fraction * 20)));
  return `[${"#".repeat(filled)}${".".repeat(20 - filled)}]${fraction > 1 ? "!" : " "}`;
}
