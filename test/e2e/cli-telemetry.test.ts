/** `factory telemetry get|set|delete` against the real local runtime (issue 26): the tenant's own collector. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, type Runtime } from "./support/runtime";

const BIN = join(import.meta.dirname, "..", "..", "bin", "factory.mjs");
let rt: Runtime;
let home: string;

function factory(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: home,
    encoding: "utf8",
    timeout: 120_000,
    ...(input !== undefined ? { input } : {}),
    env: {
      PATH: process.env.PATH ?? "",
      XDG_CONFIG_HOME: join(home, "config"),
      FACTORY_URL: rt.url,
      FACTORY_API_KEY: rt.key,
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  rt = await startRuntime();
  home = mkdtempSync(join(tmpdir(), "factory-cli-telemetry-"));
});
afterAll(async () => {
  await rt?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("factory telemetry", () => {
  it("sets a collector with a secret header, shows it without the value, and deletes it", () => {
    expect(factory(["secrets", "put", "otel-team"], "the-team-key\n").code).toBe(0);
    const none = factory(["telemetry", "get"]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain("no collector");

    const set = factory(["telemetry", "set", "http://127.0.0.1:4318", "--header", "X-Team=otel-team", "--json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      endpoint: "http://127.0.0.1:4318/",
      headers: { "x-team": { $secret: "otel-team" } },
    });

    const got = factory(["telemetry", "get"]);
    expect(got.stdout).toContain("endpoint http://127.0.0.1:4318");
    expect(got.stdout).toContain("x-team: secret otel-team");
    expect(got.stdout).not.toContain("the-team-key");

    expect(factory(["telemetry", "delete"]).code).toBe(0);
    expect(factory(["telemetry", "get"]).stdout).toContain("no collector");
  });

  it("refuses a malformed header flag before calling, and names the API's refusal of a bad endpoint", () => {
    const usage = factory(["telemetry", "set", "http://127.0.0.1:4318", "--header", "no-equals"]);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toContain("--header wants NAME=SECRET");
    const refused = factory(["telemetry", "set", "not a url"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("request.invalid");
  });
});
