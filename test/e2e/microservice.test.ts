import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime();
});
afterAll(() => rt?.stop());

describe("against a real `wrangler dev`", () => {
  it.each([
    ["microservice", { name: "billing-api", resources: ["invoices", "customers"], modules: 3 }, /# pass 3/],
    ["library", { name: "text-kit" }, /# pass 3/],
    ["saas-starter", { name: "acme-cloud" }, /# pass 6/],
    ["pipeline", { name: "ci-only", nodeVersion: 22 }, /# pass 2/],
  ] as const)(
    "a %s run succeeds, its zip downloads, and the generated project's npm install && npm test pass",
    async (blueprint, input, passes) => {
      const created = await rt.fetch("/v1/runs", { method: "POST", json: { project: "generated", blueprint, input } });
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      expect(created.headers.get("location")).toBe(`/v1/runs/${id}`);

      const run = await waitForRun(rt, id);
      expect(run.status).toBe("succeeded");

      const zip = await rt.fetch(`/v1/runs/${id}/artifacts/${input.name}.zip`);
      expect(zip.status).toBe(200);
      const files = unzipSync(new Uint8Array(await zip.arrayBuffer()));

      const dir = mkdtempSync(join(tmpdir(), "factory-generated-"));
      try {
        for (const [path, bytes] of Object.entries(files)) {
          mkdirSync(dirname(join(dir, path)), { recursive: true });
          writeFileSync(join(dir, path), bytes);
        }
        const project = join(dir, input.name);
        execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: project, stdio: "pipe", timeout: 180_000 });
        const out = execFileSync("npm", ["test"], { cwd: project, stdio: "pipe", timeout: 120_000 }).toString();
        expect(out).toMatch(passes);
        expect(out).toMatch(/# fail 0/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("refuses bad input with problem+json over real HTTP", async () => {
    const res = await rt.fetch("/v1/runs", {
      method: "POST",
      body: "{oops",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(((await res.json()) as { code: string }).code).toBe("request.malformed_json");
  });

  it("a control character in a header never creates a run: the HTTP front refuses CR/LF, the API the rest", async () => {
    const body = JSON.stringify({ project: "hostile", steps: [{ id: "a", type: "system.echo" }] });
    // Raw bytes: fetch itself refuses to send these headers.
    const raw = (value: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: Number(new URL(rt.url).port) });
        let answer = "";
        socket.on("data", (d) => (answer += String(d)));
        socket.on("end", () => resolve(answer));
        socket.on("error", reject);
        socket.end(
          `POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rt.key}\r\nContent-Type: application/json\r\n` +
            `Idempotency-Key: ${value}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
    for (const value of ["a\nb", "a\rb", "a\r\n b"])
      expect((await raw(value)).split("\r\n")[0], JSON.stringify(value)).toBe("HTTP/1.1 400 Bad Request");
    const ours = await raw("a\u0001b");
    expect(ours).toContain("application/problem+json");
    expect(ours).toContain('"path":"header.idempotency-key"');
    const runs = (await (await rt.fetch("/v1/runs?project=hostile")).json()) as { items: unknown[] };
    expect(runs.items).toEqual([]);
  });
});
