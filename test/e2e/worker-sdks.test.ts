/**
 * The worker SDKs against a real `wrangler dev`: the Python worker (`python3 -m factory_worker`)
 * and the TypeScript one (sdk/worker/examples/worker.ts) run runs end to end; a Python worker
 * SIGKILLed mid-step loses its lease and a second worker finishes the step once; a TypeScript worker
 * sent SIGTERM gives its step back within 5 s and another worker takes it at once (no lease expiry).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type Runtime, startRuntime, waitForRun } from "./support/runtime";

const ROOT = join(import.meta.dirname, "..", "..");
// The TypeScript example runs under Node's type stripping (22.18+): the Node the project installs.
const NODE22 = join(ROOT, "node_modules", "node", "bin", "node");
const NODE = existsSync(NODE22) ? NODE22 : process.execPath;

let rt: Runtime;
const children: ChildProcess[] = [];

interface Line {
  msg: string;
  worker: string;
  stepId?: string;
  attempt?: number;
  status?: number;
}
const lines: Line[] = [];
const raw: string[] = [];

/**
 * The pool and a worker token for it: the one place tests get them (today the operator's
 * `external` pool with an admin-issued token; tenant pools replace this at merge).
 */
async function workerCredentials(): Promise<{ pool: string; token: string }> {
  const res = await rt.fetch("/v1/admin/pools/external/tokens", {
    method: "POST",
    headers: { authorization: `Bearer ${rt.adminToken}` },
  });
  expect(res.status).toBe(201);
  return { pool: "external", token: ((await res.json()) as { token: string }).token };
}

async function startWorker(
  lang: "python" | "ts",
  name: string,
  env: Record<string, string> = {},
  credentials?: { pool: string; token: string },
) {
  const { pool, token } = credentials ?? (await workerCredentials());
  const vars = {
    PATH: process.env.PATH ?? "",
    FACTORY_URL: rt.url,
    FACTORY_WORKER_TOKEN: token,
    FACTORY_POOL: pool,
    WORKER_NAME: name,
    WORKER_CONCURRENCY: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    ...env,
  };
  const child =
    lang === "python"
      ? spawn("python3", ["-m", "factory_worker"], { cwd: join(ROOT, "sdk", "python"), env: vars })
      : spawn(NODE, [join(ROOT, "sdk", "worker", "examples", "worker.ts")], { env: vars });
  let partial = "";
  child.stderr?.on("data", (d) => {
    partial += String(d);
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const part of parts) {
      raw.push(`${name}: ${part}`);
      try {
        lines.push({ ...(JSON.parse(part) as Line), worker: name });
      } catch {
        // not a log line (a Node warning, say): kept in `raw` for failure messages
      }
    }
  });
  child.stdout?.on("data", (d) => raw.push(`${name}: ${String(d)}`));
  children.push(child);
  return child;
}

async function until<T>(check: () => T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${raw.slice(-40).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once("exit", () => r()));

async function createRun(steps: unknown[]): Promise<string> {
  const res = await rt.fetch("/v1/runs", { method: "POST", json: { project: "sdk", steps } });
  expect([201, 202], await res.clone().text()).toContain(res.status);
  return ((await res.json()) as { id: string }).id;
}

interface Event {
  type: string;
  stepId?: string;
  occurredAt: string;
  data: Record<string, unknown>;
}
async function events(id: string): Promise<Event[]> {
  return ((await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as { items: Event[] }).items;
}

type Run = { status: string; steps: { id: string; attempts: number; output: Record<string, unknown> }[] };
async function finished(id: string): Promise<Record<string, Run["steps"][number]>> {
  const run = (await waitForRun(rt, id, 120_000)) as unknown as Run;
  expect(run.status, `${JSON.stringify(run.steps)}\n${raw.slice(-40).join("\n")}`).toBe("succeeded");
  return Object.fromEntries(run.steps.map((s) => [s.id, s]));
}

const THREE_STEPS = [
  { id: "fib", type: "external.task", input: { kind: "fibonacci", payload: { n: 90 } } },
  { id: "nap", type: "external.task", input: { kind: "sleep", payload: { ms: 200 } }, dependsOn: ["fib"] },
  { id: "report", type: "external.task", input: { kind: "report", payload: { title: "Done" } }, dependsOn: ["nap"] },
];

beforeAll(async () => {
  rt = await startRuntime({ LEASE_GRACE_MS: "300", RETRY_BASE_MS: "50" });
});

// Every test's workers are gone before the next one starts: none of them may lease its steps.
afterEach(async () => {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map(exited));
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await rt?.stop();
});

async function endToEnd(lang: "python" | "ts", name: string) {
  const worker = await startWorker(lang, name);
  const id = await createRun(THREE_STEPS);
  const steps = await finished(id);
  expect(steps.fib!.output).toEqual({ n: 90, value: "2880067194370816120", by: name });
  expect(steps.nap!.output).toEqual({ sleptMs: 200, by: name });
  expect(steps.report!.output).toEqual({ title: "Done", by: name });
  const log = await events(id);
  // ctx.log lines arrive as the step's log events.
  expect(log.filter((e) => e.type === "step.log" && e.stepId === "nap").map((e) => e.data.message)).toEqual([
    "sleeping 200 ms",
  ]);
  expect(await (await rt.fetch(`/v1/runs/${id}/artifacts/report.md`)).text()).toBe(`# Done\n\nWritten by ${name}.\n`);
  worker.kill("SIGTERM");
  await exited(worker);
}

it("a run whose steps the Python worker executes succeeds", async () => {
  await endToEnd("python", "py-solo");
});

it("the TypeScript SDK runs a run end to end", async () => {
  await endToEnd("ts", "ts-solo");
});

it("a Python worker SIGKILLed mid-step: the lease expires and a second worker finishes the step, once", async () => {
  const first = await startWorker("python", "py-first");
  const id = await createRun([
    {
      id: "long",
      type: "external.task",
      input: { kind: "sleep", payload: { ms: 3_000 } },
      heartbeatTimeoutMs: 1_000,
    },
  ]);
  await until(
    () => lines.some((l) => l.worker === "py-first" && l.msg === "leased" && l.stepId === "long"),
    "py-first leasing",
  );
  first.kill("SIGKILL");
  await exited(first);
  await startWorker("python", "py-second");
  const steps = await finished(id);
  expect(steps.long).toMatchObject({ attempts: 2, output: { sleptMs: 3_000, by: "py-second" } });
  const log = await events(id);
  expect(log.filter((e) => e.type === "step.lease_expired")).toEqual([
    expect.objectContaining({ data: expect.objectContaining({ attempt: 1, phase: "running" }) }),
  ]);
  expect(log.filter((e) => e.type === "step.succeeded")).toHaveLength(1);
  expect(log.filter((e) => e.type === "step.result_refused")).toEqual([]);
});

/** SIGTERM to a worker mid-step: it gives the step back, and the idle second worker takes it at once. */
async function sigtermReleases(lang: "python" | "ts") {
  const [one, two] = [`${lang}-first`, `${lang}-second`];
  const first = await startWorker(lang, one, { WORKER_GRACE_MS: "1000" });
  await until(() => lines.some((l) => l.worker === one && l.msg === "started"), `${one} started`);
  const id = await createRun([
    {
      id: "long",
      type: "external.task",
      input: { kind: "sleep", payload: { ms: 4_000 } },
      // A lease expiry would take 60 s: the second attempt starting sooner can only be the release.
      heartbeatTimeoutMs: 60_000,
      timeoutMs: 300_000,
    },
  ]);
  await until(() => lines.some((l) => l.worker === one && l.msg === "leased"), `${one} leasing`);
  await startWorker(lang, two);
  await until(() => lines.some((l) => l.worker === two && l.msg === "started"), `${two} started`);
  const sigterm = Date.now();
  first.kill("SIGTERM");
  await exited(first);
  const released = lines.find((l) => l.worker === one && l.msg === "released");
  expect(released, raw.join("\n")).toMatchObject({ stepId: "long", attempt: 1, status: 200 });
  const steps = await finished(id);
  expect(steps.long).toMatchObject({ attempts: 2, output: { sleptMs: 4_000, by: two } });
  const log = await events(id);
  const releasedAt = Date.parse(log.find((e) => e.type === "step.released")?.occurredAt ?? "");
  // The bound the SDKs promise: the shutdown grace (1 s here) plus one call, far inside 5 s.
  expect(releasedAt - sigterm).toBeLessThan(5_000);
  expect(log.filter((e) => e.type === "step.lease_expired" || e.type === "step.retrying")).toEqual([]);
  expect(log.filter((e) => e.type === "step.started").map((e) => e.data.attempt)).toEqual([1, 2]);
  expect(log.filter((e) => e.type === "step.succeeded")).toHaveLength(1);
}

it("a TypeScript worker sent SIGTERM releases its step within 5 s and another worker takes it at once", async () => {
  await sigtermReleases("ts");
});

it("a Python worker sent SIGTERM does the same", async () => {
  await sigtermReleases("python");
});

it("a Python worker on the tenant's own pool runs the tenant's job type: no deployment-wide object on its path", async () => {
  const post = async (path: string, json?: unknown) => {
    const res = await rt.fetch(path, { method: "POST", ...(json === undefined ? {} : { json }) });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
    return (await res.json()) as Record<string, unknown>;
  };
  await post("/v1/pools", { name: "py" });
  const object = { type: "object" };
  await post("/v1/job-types", { name: "demo.fibonacci", pool: "py", input: object, output: object });
  const { token } = (await post("/v1/pools/py/tokens")) as { token: string };
  expect(token.startsWith("fwt_")).toBe(true); // the tenant's token: it reaches only `<tenant>:py`
  const worker = await startWorker("python", "py-tenant", { FACTORY_JOB_PREFIX: "demo." }, { pool: "py", token });
  const id = await createRun([{ id: "fib", type: "demo.fibonacci", input: { n: 90 } }]);
  const steps = await finished(id);
  expect(steps.fib!.output).toEqual({ n: 90, value: "2880067194370816120", by: "py-tenant" });
  const listed = (await (await rt.fetch("/v1/pools/py/workers")).json()) as {
    items: { id: string; completed: number }[];
  };
  expect(listed.items.find((w) => w.id === "py-tenant")).toMatchObject({ completed: 1 });
  worker.kill("SIGTERM");
  await exited(worker);
});
