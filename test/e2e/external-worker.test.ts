import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

const WORKER = join(import.meta.dirname, "..", "..", "examples", "external-worker", "worker.mjs");
let rt: Runtime;
let token = "";
const workers: ChildProcess[] = [];
const logs: string[] = [];

function startWorker(name: string): ChildProcess {
  const child = spawn(process.execPath, [WORKER], {
    env: { PATH: process.env.PATH ?? "", FACTORY_URL: rt.url, FACTORY_WORKER_TOKEN: token, WORKER_NAME: name },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => logs.push(String(d)));
  child.stderr?.on("data", (d) => logs.push(String(d)));
  workers.push(child);
  return child;
}

beforeAll(async () => {
  rt = await startRuntime({ LEASE_GRACE_MS: "300", RETRY_BASE_MS: "50" });
  const res = await rt.fetch("/v1/admin/pools/external/tokens", {
    method: "POST",
    headers: { authorization: `Bearer ${rt.adminToken}` },
  });
  expect(res.status).toBe(201);
  token = ((await res.json()) as { token: string }).token;
});

afterAll(async () => {
  for (const w of workers) w.kill("SIGKILL");
  await rt?.stop();
});

it("the reference worker runs steps end to end; killing it mid-step lets another worker finish the step", async () => {
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: {
      project: "ext",
      steps: [
        { id: "fib", type: "external.task", input: { kind: "fibonacci", payload: { n: 90 } } },
        {
          id: "long",
          type: "external.task",
          input: { kind: "sleep", payload: { ms: 3_000 } },
          heartbeatTimeoutMs: 1_000,
          dependsOn: ["fib"],
        },
        {
          id: "report",
          type: "external.task",
          input: { kind: "report", payload: { title: "Done" } },
          dependsOn: ["long"],
        },
      ],
    },
  });
  const { id } = (await res.json()) as { id: string };
  // Before any worker exists, the first step waits in the pool: the backlog signal shows it.
  const backlog = (await (
    await rt.fetch("/v1/admin/pools/external", { headers: { authorization: `Bearer ${rt.adminToken}` } })
  ).json()) as { waiting: number; oldestAgeMs: number };
  expect(backlog.waiting).toBe(1);
  expect(backlog.oldestAgeMs).toBeGreaterThanOrEqual(0);
  const platform = (await (
    await rt.fetch("/v1/admin/metrics", { headers: { authorization: `Bearer ${rt.adminToken}` } })
  ).json()) as {
    externalPools: Record<string, { waiting: number }>;
    pools: { pool: string; queued: number }[];
  };
  expect(platform.externalPools.external?.waiting).toBe(1);
  // The same step, seen from the runs: queued in the external pool.
  expect(platform.pools).toEqual([{ pool: "external", queued: 1, running: 0, retrying: 0 }]);
  const first = startWorker("first");

  // Wait until the first worker holds the long step, then kill it outright.
  const deadline = Date.now() + 20_000;
  while (!logs.some((l) => l.includes('"worker":"first"') && l.includes('"stepId":"long"')) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  first.kill("SIGKILL");
  startWorker("second");

  const run = (await waitForRun(rt, id, 30_000)) as unknown as {
    status: string;
    steps: { id: string; attempts: number; output: Record<string, unknown> }[];
  };
  expect(run.status, JSON.stringify(run.steps) + logs.join("")).toBe("succeeded");
  const steps = Object.fromEntries(run.steps.map((s) => [s.id, s]));
  expect(steps.fib!.output).toEqual({ n: 90, value: "2880067194370816120" });
  expect(steps.long!.attempts).toBe(2);
  expect(steps.long!.output).toEqual({ sleptMs: 3_000, by: "second" });
  const artifacts = (
    (await (await rt.fetch(`/v1/runs/${id}/artifacts`)).json()) as { items: { name: string; stepId: string }[] }
  ).items;
  expect(artifacts).toEqual([expect.objectContaining({ name: "report.md", stepId: "report" })]);
  expect(await (await rt.fetch(`/v1/runs/${id}/artifacts/report.md`)).text()).toContain("Written by second");

  // A wrong or missing token opens nothing.
  expect(
    (
      await rt.fetch("/v1/pools/external/leases", {
        method: "POST",
        headers: { authorization: "Bearer fwk_external_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
      })
    ).status,
  ).toBe(401);
  expect((await rt.fetch("/v1/pools/external/leases", { method: "POST" })).status).toBe(401);
}, 60_000);
