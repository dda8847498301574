import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plantedSecrets } from "../../src/data/jobs/planted";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

const BIN = join(import.meta.dirname, "..", "..", "bin", "factory.mjs");
let rt: Runtime;
let home: string;

function factory(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? home,
    encoding: "utf8",
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? "", XDG_CONFIG_HOME: join(home, "config"), ...opts.env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  rt = await startRuntime();
  home = mkdtempSync(join(tmpdir(), "factory-cli-"));
});
afterAll(async () => {
  await rt?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("the factory CLI against the real local runtime", () => {
  it("logs in, keeping the key in a 0600 file", () => {
    const r = factory(["login", "--url", rt.url, "--key", rt.key, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const { path } = JSON.parse(r.stdout) as { path: string };
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ url: rt.url, key: rt.key });
    expect(
      factory(["login", "--url", rt.url, "--key", "frk_dev_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
        .code,
    ).toBe(1);
  });

  it("creates a run, watches it to success, downloads its artifact, and shows it in list, get, logs and usage", async () => {
    const created = factory([
      "runs",
      "create",
      "microservice",
      "--project",
      "cli",
      "--input-json",
      '{"name":"cli-api"}',
      "--json",
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };

    const watched = factory(["runs", "watch", id]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain("step.succeeded");
    expect(watched.stdout).toMatch(new RegExp(`${id}\\s+succeeded`));

    const dir = join(home, "artifacts");
    const downloaded = factory(["artifacts", "download", id, "-o", dir, "--json"]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    const [file] = (JSON.parse(downloaded.stdout) as { files: string[] }).files;
    expect(file).toBe(join(dir, "cli-api.zip"));
    const got = JSON.parse(factory(["runs", "get", id, "--json"]).stdout) as { status: string };
    expect(got.status).toBe("succeeded");
    const manifest = ((await (await rt.fetch(`/v1/runs/${id}/artifacts`)).json()) as { items: { sha256: string }[] })
      .items;
    expect(createHash("sha256").update(readFileSync(file!)).digest("hex")).toBe(manifest[0]!.sha256);

    const list = JSON.parse(factory(["runs", "list", "--project", "cli", "--json"]).stdout) as {
      items: { id: string }[];
    };
    expect(list.items.map((r) => r.id)).toContain(id);
    const logs = factory(["runs", "logs", id]);
    expect(logs.stdout.split("\n").filter((l) => l.includes("run.succeeded"))).toHaveLength(1);
    const usage = JSON.parse(factory(["usage", "--json"]).stdout) as { items: { key: string; runs: number }[] };
    expect(usage.items.find((r) => r.key === "cli")?.runs).toBe(1);

    expect(factory(["budgets"]).stdout).toContain("no budget set for");
    const set = await rt.fetch("/v1/admin/tenants/dev/budgets", {
      method: "PUT",
      headers: { authorization: `Bearer ${rt.adminToken}` },
      json: { monthlyUsd: 2, projects: { cli: 1 }, onExceeded: "block" },
    });
    expect(set.status).toBe(200);
    const budgets = factory(["budgets"]);
    expect(budgets.code, budgets.stderr).toBe(0);
    expect(budgets.stdout).toMatch(/\(tenant\)\s+\[\.{20}\] +\$0\.\d{6} of \$2/);
    expect(budgets.stdout).toMatch(/cli\s+\[/);
    const json = JSON.parse(factory(["budgets", "--json"]).stdout) as {
      tenant: { limitUsd: number; spentUsd: number };
    };
    expect(json.tenant.limitUsd).toBe(2);
    expect(json.tenant.spentUsd).toBeGreaterThan(0);
    expect(factory(["breakers"]).stdout).toContain("no circuit breaker has changed state");
  });

  it("exits non-zero, with the problem's title and code, when a run fails or a call is refused", () => {
    const steps = join(home, "steps.json");
    writeFileSync(steps, JSON.stringify([{ id: "doomed", type: "system.fail", input: { times: -1 } }]));
    const failed = factory(["runs", "create", "--steps", steps, "--project", "cli", "--watch"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/failed/);
    expect(failed.stdout).toContain("system.fail");

    const missing = factory(["runs", "get", "run_0000000000aaaaaaaaaaaaaaaa"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("(run.not_found)");
    const bad = factory(["runs", "create", "spaceship", "--project", "cli"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("(blueprint.not_found)");
    expect(factory(["runs", "frobnicate"]).code).toBe(2);
  });

  it("lists a rejected artifact's findings without the secret, refuses its download, and sets a project's policy", () => {
    const steps = join(home, "secrets.json");
    writeFileSync(steps, JSON.stringify([{ id: "leak", type: "system.secrets", input: {} }]));
    const run = factory(["runs", "create", "--steps", steps, "--project", "cli-scan", "--watch", "--json"]);
    expect(run.code).toBe(1);
    const id = JSON.parse(run.stdout.trim().split("\n").at(-1)!).id as string;
    expect(run.stdout).toContain("artifact.secret_detected");

    const list = factory(["artifacts", "list", id]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("secrets.zip  rejected");
    expect(list.stdout).toContain("@secretlint/secretlint-rule-aws at fixture/config/aws.env:3:19");
    const refused = factory(["artifacts", "download", id, "secrets.zip", "-o", join(home, "nope")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("(artifact.rejected)");
    for (const p of plantedSecrets()) expect(run.stdout + list.stdout + refused.stderr).not.toContain(p.secret);

    const set = factory(["admin", "scanning", "dev", "--policy", "warn", "--project", "cli-warn"], {
      env: { FACTORY_ADMIN_TOKEN: rt.adminToken, FACTORY_URL: rt.url },
    });
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("cli-warn: warn");
    expect(factory(["admin", "scanning", "dev"]).code).toBe(2); // no admin token
  });

  it("shows an artifact's versions with lineage, and the diff of two versions", async () => {
    for (const resources of [["invoices"], ["invoices", "customers"]]) {
      const res = await rt.fetch("/v1/runs", {
        method: "POST",
        json: { project: "cli-vers", blueprint: "microservice", input: { name: "vsvc", resources } },
      });
      expect((await waitForRun(rt, ((await res.json()) as { id: string }).id)).status).toBe("succeeded");
    }
    let listed = factory(["artifacts", "versions", "cli-vers", "vsvc.zip"]);
    for (let i = 0; i < 50 && !listed.stdout.includes("v2 "); i++) {
      await new Promise((r) => setTimeout(r, 100));
      listed = factory(["artifacts", "versions", "cli-vers", "vsvc.zip"]);
    }
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^v2 +published .* step package \(repo\.package\)/m);
    expect(listed.stdout).toMatch(/^v1 +superseded/m);
    const diff = factory(["artifacts", "diff", "cli-vers", "vsvc.zip", "2", "1"]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain("vsvc.zip: v1 → v2");
    expect(diff.stdout).toMatch(/^~ vsvc\/src\/app\.ts {2}\d+ → \d+ B$/m);
  });

  it("a gated microservice waits, `runs watch` says how to decide it, `approvals approve` lets it finish", async () => {
    // The run is started by a key of its own: the key that starts a run may not decide its gates.
    expect((await rt.fetch("/v1/runs")).status).toBe(200);
    const made = await fetch(`${rt.url}/v1/admin/tenants/dev/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "requester", scopes: ["runs:read", "runs:write"] }),
    });
    expect(made.status).toBe(201);
    const requesterKey = ((await made.json()) as { key: string }).key;
    const created = factory([
      "runs",
      "create",
      "microservice",
      "--project",
      "cli-gate",
      "--input-json",
      '{"name":"gated-api","approval":true}',
      "--json",
      "--key",
      requesterKey,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    type Listed = { items: { runId: string; stepId: string; title: string }[] };
    let listed: Listed = { items: [] };
    for (let i = 0; i < 300 && !listed.items.some((a) => a.runId === id); i++) {
      await new Promise((r) => setTimeout(r, 200));
      listed = JSON.parse(factory(["approvals", "list", "--project", "cli-gate", "--json"]).stdout) as Listed;
    }
    expect(listed.items.find((a) => a.runId === id)).toMatchObject({ stepId: "approval", title: "Publish gated-api?" });
    const human = factory(["approvals", "list"]);
    expect(human.stdout).toContain("Publish gated-api?");

    const approved = factory(["approvals", "approve", id, "approval", "--comment", "looks good"]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain("approved by");
    const watched = factory(["runs", "watch", id]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain("step.waiting");
    expect(watched.stdout).toContain(`factory approvals approve|reject ${id} approval`);
    const dir = join(home, "gated");
    const downloaded = factory(["artifacts", "download", id, "-o", dir, "--json"]);
    expect((JSON.parse(downloaded.stdout) as { files: string[] }).files).toEqual([join(dir, "gated-api.zip")]);
    const again = factory(["approvals", "reject", id, "approval"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("(approval.already_decided)");
  });

  it("`audit list` shows who cancelled a run, filtered by action", () => {
    const env = { FACTORY_URL: rt.url, FACTORY_API_KEY: rt.key };
    const steps = join(home, "audit.json");
    writeFileSync(steps, JSON.stringify([{ id: "wait", type: "signal", input: { name: "never" } }]));
    const created = factory(["runs", "create", "--steps", steps, "--project", "cli-audit", "--json"], { env });
    const { id } = JSON.parse(created.stdout) as { id: string };
    expect(factory(["runs", "cancel", id], { env }).code).toBe(0);
    const listed = factory(["audit", "list", "--action", "run.cancel", "--json"], { env });
    expect(listed.code, listed.stderr).toBe(0);
    const page = JSON.parse(listed.stdout) as { items: { action: string; target: string; actor: { kind: string } }[] };
    expect(page.items).toMatchObject([{ action: "run.cancel", target: `run:${id}`, actor: { kind: "key" } }]);
    const human = factory(["audit", "list", "--target", `run:${id}`], { env });
    expect(human.stdout).toMatch(/run\.cancel\s+key:dev/);
    expect(human.stdout).toMatch(/run\.create\s+key:dev/);
  });

  it("`runs signal` completes a step waiting for a signal", () => {
    const steps = join(home, "signal.json");
    writeFileSync(steps, JSON.stringify([{ id: "wait", type: "signal", input: { name: "deployed" } }]));
    const created = factory(["runs", "create", "--steps", steps, "--project", "cli", "--json"]);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const sent = factory(["runs", "signal", id, "deployed", "--data-json", '{"env":"prod"}']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/signal deployed received/);
    const watched = factory(["runs", "watch", id, "--json"]);
    expect(watched.code, watched.stderr).toBe(0);
    const run = JSON.parse(factory(["runs", "get", id, "--json"]).stdout) as { steps: { output: unknown }[] };
    expect(run.steps[0]!.output).toEqual({ env: "prod" });
  });

  it("shows and sets retention, pins a version, reports storage, and purges a tenant with its progress and audit", async () => {
    const adminEnv = { env: { FACTORY_ADMIN_TOKEN: rt.adminToken, FACTORY_URL: rt.url } };
    const set = factory(
      [
        "admin",
        "retention",
        "dev",
        "--policy-json",
        '{"archiveSeconds":2592000,"projects":{"cli":{"runHotSeconds":86400}}}',
      ],
      adminEnv,
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("(tenant)             hot 7 d · archive 30 d");
    expect(set.stdout).toContain("cli                  hot 1 d · archive 30 d");
    const shown = factory(["retention", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ policy: { archiveSeconds: 2_592_000 } });
    const tooShort = factory(["admin", "retention", "dev", "--policy-json", '{"runHotSeconds":60}'], adminEnv);
    expect(tooShort.code).toBe(1);
    expect(tooShort.stderr).toContain("(request.invalid)");
    // The CLI test's earlier run published cli-api.zip v1 in project cli.
    const pin = factory(["artifacts", "pin", "cli", "cli-api.zip", "1"]);
    expect(pin.code, pin.stderr).toBe(0);
    expect(pin.stdout).toContain("v1: published, pinned");
    expect(factory(["usage"]).stdout).toMatch(
      /storage held now: run state \d+ KiB, archives \d+ KiB, artifacts \d+ KiB/,
    );

    const admin = { authorization: `Bearer ${rt.adminToken}` };
    expect(
      (await rt.fetch("/v1/admin/tenants", { method: "POST", headers: admin, json: { id: "cli-gone", name: "x" } }))
        .status,
    ).toBe(201);
    expect(factory(["admin", "delete-tenant", "cli-gone", "--reason", "test"], adminEnv).code).toBe(2); // --requested-by
    const purge = factory(
      ["admin", "delete-tenant", "cli-gone", "--reason", "test", "--requested-by", "cli"],
      adminEnv,
    );
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toContain("purging cli-gone: suspended");
    let progress = "";
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      progress = factory(["admin", "purge", "cli-gone"], adminEnv).stdout;
      if (progress.startsWith("purged")) break;
    }
    expect(progress).toMatch(
      /^purged cli-gone at .* \(asked by cli: test\): 0 runs \(0 cancelled\), 0 R2 keys, 0 webhooks, 0 keys/,
    );
  });

  it("`factory demo` generates, watches and downloads a microservice with the dev key", () => {
    const cwd = mkdtempSync(join(home, "demo-"));
    writeFileSync(join(cwd, ".dev.vars"), `DEV_API_KEY=${rt.key}\n`);
    const demo = factory(["demo", "--url", rt.url], { cwd, env: { XDG_CONFIG_HOME: join(cwd, "empty") } });
    expect(demo.code, demo.stderr).toBe(0);
    expect(existsSync(join(cwd, "demo-output", "demo-api.zip"))).toBe(true);
  });

  it("`factory demo --deliver` pushes the service to a local git http-backend and prints a clone that works", () => {
    const cwd = mkdtempSync(join(home, "demo-deliver-"));
    writeFileSync(join(cwd, ".dev.vars"), `DEV_API_KEY=${rt.key}\n`);
    const env = { XDG_CONFIG_HOME: join(cwd, "empty") };
    const demo = factory(["demo", "--deliver", "--name", "shipped-api", "--url", rt.url], { cwd, env });
    expect(demo.code, demo.stderr).toBe(0);
    const clone = /Clone it: (git clone -b (factory\/run_[0-9a-z]+) (\S+) shipped-api)/.exec(demo.stdout);
    expect(clone, demo.stdout).not.toBeNull();
    // The printed command, as a person would run it, after the demo (and its server) ended.
    const [, , branch, path] = clone as RegExpExecArray;
    const cloned = spawnSync("git", ["clone", "-q", "-b", branch as string, path as string, "shipped-api"], {
      cwd,
      encoding: "utf8",
    });
    expect(cloned.status, cloned.stderr).toBe(0);
    expect(existsSync(join(cwd, "shipped-api", "package.json"))).toBe(true);
    expect(existsSync(join(cwd, "shipped-api", "README.md"))).toBe(true);
    expect(demo.stdout).not.toMatch(/[0-9a-f]{48}/); // the remote's password is never printed
  });
});

describe("factory workers and factory job-types", () => {
  it("create a pool and a token, a job type and its next version, and list them", async () => {
    const env = { FACTORY_URL: rt.url, FACTORY_API_KEY: rt.key };
    expect(factory(["workers", "create-pool", "cli-gpu", "--labels", "site=lab"], { env }).code).toBe(0);
    const token = factory(["workers", "token", "cli-gpu", "--json"], { env });
    expect(token.code, token.stderr).toBe(0);
    expect((JSON.parse(token.stdout) as { token: string }).token).toMatch(/^fwt_dev_cli-gpu_/);
    const file = join(home, "job-type.json");
    const schema = { type: "object" };
    writeFileSync(file, JSON.stringify({ name: "acme.cli", pool: "cli-gpu", input: schema, output: schema }));
    for (const v of [1, 2]) {
      const made = factory(["job-types", "create", file], { env });
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toContain(`created acme.cli v${v}`);
    }
    expect(factory(["job-types", "list"], { env }).stdout).toMatch(/acme\.cli\s+v2\s+pool cli-gpu/);
    expect(factory(["job-types", "versions", "acme.cli"], { env }).stdout).toMatch(/v2[\s\S]*v1/);
    expect(factory(["workers", "pools"], { env }).stdout).toMatch(/cli-gpu/);
    expect(factory(["workers", "tokens", "cli-gpu", "--json"], { env }).stdout).toContain('"id"');
    expect(factory(["workers", "list", "cli-gpu"], { env }).stdout).toContain("no workers yet");
    const refused = factory(["workers", "delete-pool", "cli-gpu"], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("pool.in_use");
  });
});
