/**
 * A planted secret value, used for real (it is the Git server's password and a step's input),
 * appears in no API answer, event, webhook body, log line, archive or stored byte: the test
 * reads every one it can reach, gzip opened, and searches it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startGitServer, type GitServer } from "./support/git-server";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

const PLANTED = "planted-secret-9b7e5c3a1f0d2e4c6a8b";
let rt: Runtime;
let git: GitServer;
let receiver: Server;
const webhookBodies: string[] = [];

beforeAll(async () => {
  git = await startGitServer({ user: "factory", password: PLANTED });
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      webhookBodies.push(JSON.stringify(req.headers) + body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  rt = await startRuntime({ RETENTION_MIN_SECONDS: "2" });
});
afterAll(async () => {
  await rt?.stop();
  await git?.close();
  await new Promise((r) => receiver?.close(r));
});

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** A file's bytes, and its content opened when it is gzip (an archive). */
function readable(path: string): Buffer[] {
  const bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return [bytes, gunzipSync(bytes)];
  return [bytes];
}

it("appears in no API answer, event, webhook body, log line, archive or stored byte", async () => {
  const { port } = receiver.address() as { port: number };
  const hook = await rt.fetch("/v1/webhooks", {
    method: "POST",
    json: { url: `http://127.0.0.1:${port}/hook`, eventTypes: ["*"] },
  });
  expect(hook.status).toBe(201);
  expect((await rt.fetch("/v1/secrets/planted", { method: "PUT", json: { value: PLANTED } })).status).toBe(201);

  // Every run archives 2 s after it ends (a run keeps the periods in force when it was created).
  const admin = { authorization: `Bearer ${rt.adminToken}` };
  const retention = await rt.fetch("/v1/admin/tenants/dev/retention", {
    method: "PUT",
    headers: admin,
    json: { runHotSeconds: 2 },
  });
  expect(retention.status, await retention.clone().text()).toBe(200);
  const url = git.repo("acme/planted.git");
  const create = async (json: unknown) => {
    const res = await rt.fetch("/v1/runs", { method: "POST", json });
    expect(res.status, await res.clone().text()).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const delivered = await create({
    project: "planted",
    blueprint: "library",
    input: { name: "planted-lib", deliver: { git: { url, secret: "planted" } } },
  });
  const echoed = await create({
    project: "planted",
    steps: [{ id: "echo", type: "system.echo", input: { token: { $secret: "planted" }, note: `a ${PLANTED} b` } }],
  });
  const ids = [delivered, echoed];
  for (const id of ids) await waitForRun(rt, id, 120_000);
  expect(((await (await rt.fetch(`/v1/runs/${delivered}`)).json()) as { status: string }).status).toBe("succeeded");
  // The secret was used for real: the Git server took it as the push's password.
  expect(git.requests.some((r) => r.startsWith("POST /acme/planted.git/git-receive-pack"))).toBe(true);

  const answers: string[] = [];
  for (const id of ids) {
    for (let i = 0; ; i++) {
      const run = (await (await rt.fetch(`/v1/runs/${id}`)).json()) as { archivedAt: string | null };
      if (run.archivedAt) break;
      if (i > 600) throw new Error(`run ${id} was not archived`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const path of [`/v1/runs/${id}`, `/v1/runs/${id}/events?limit=1000`, `/v1/runs/${id}/artifacts`])
      answers.push(await (await rt.fetch(path)).text());
  }
  for (const path of ["/v1/secrets", "/v1/runs?limit=100", "/v1/usage", "/v1/metrics", "/v1/approvals"])
    answers.push(await (await rt.fetch(path)).text());
  const webhookId = ((await hook.json()) as { id: string }).id;
  answers.push(await (await rt.fetch(`/v1/webhooks/${webhookId}/deliveries?limit=100`)).text());
  // Webhooks were sent, run.delivered among them, with the external ids.
  for (let i = 0; !webhookBodies.some((b) => b.includes('"run.delivered"')); i++) {
    if (i > 300) throw new Error("no run.delivered webhook");
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(webhookBodies.find((b) => b.includes('"run.delivered"'))).toMatch(/"commitSha":"[0-9a-f]{40}"/);

  const echo = JSON.parse(answers[3] as string) as { steps: { output: unknown }[] };
  expect(echo.steps[0]?.output).toEqual({ token: "[redacted]", note: "a [redacted] b" });

  const needle = Buffer.from(PLANTED);
  const leaks: string[] = [];
  for (const [i, a] of answers.entries()) if (a.includes(PLANTED)) leaks.push(`API answer ${i}`);
  for (const [i, b] of webhookBodies.entries()) if (b.includes(PLANTED)) leaks.push(`webhook body ${i}`);
  if (rt.output().includes(PLANTED)) leaks.push("the runtime's log");
  const stored = files(rt.stateDir);
  expect(stored.length).toBeGreaterThan(5);
  let archives = 0;
  for (const path of stored) {
    const forms = readable(path);
    if (forms.length > 1) archives++;
    if (forms.some((b) => b.includes(needle))) leaks.push(path);
  }
  expect(archives).toBeGreaterThanOrEqual(ids.length);
  expect(leaks).toEqual([]);
});
