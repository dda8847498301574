/**
 * The three systems the benchmark drives, behind one small interface: start one alone on fresh
 * state, submit a run of a given shape, read its state with the server's own timestamps, stop it.
 */
import { startRuntime, type Runtime } from "../test/e2e/support/runtime.ts";
import { startPeer, type Peer } from "./peers.ts";
import type { Shape } from "./peers/shape.ts";
import { alive, processTree } from "./procs.ts";

export const SYSTEMS = ["runtime", "floor", "workflows"] as const;
export type SystemName = (typeof SYSTEMS)[number];
/** A run's shape, or a blueprint only the runtime has. */
export type Workload = Shape | { kind: "microservice" };

export interface RunState {
  terminal: boolean;
  succeeded: boolean;
  /** Server time, ms since the epoch: the run was accepted, and it reached its terminal state. */
  createdAt: number | null;
  finishedAt: number | null;
  /** How many steps the run has, where the workload does not say (a blueprint's). */
  steps?: number;
}

export interface System {
  name: SystemName;
  /** The root of its `wrangler dev` process tree. */
  pid(): number;
  submit(w: Workload): Promise<string>;
  state(id: string): Promise<RunState>;
  /** The request `POST` that creates a one-step run, for the load test. */
  createRequest(): { url: string; headers: Record<string, string>; body: string };
}

/** The microservice blueprint exists only in the runtime. */
export const supports = (name: SystemName, w: Workload): boolean => name === "runtime" || w.kind !== "microservice";

/** A system started by `launch`: stop() returns once none of its processes is left. */
export interface Launched extends System {
  stop(): Promise<void>;
}

/**
 * Starts one system under its own `wrangler dev` with a new, empty state directory. The
 * benchmark starts one at a time, so nothing else of ours runs while a system is measured.
 */
export async function launch(name: SystemName): Promise<Launched> {
  if (name === "runtime") {
    const rt = await startRuntime({ ENVIRONMENT: "development" });
    try {
      return stoppable(runtimeSystem(rt, await benchTenantKey(rt)), () => rt.stop());
    } catch (e) {
      await rt.stop();
      throw e;
    }
  }
  const peer = await startPeer(name);
  return stoppable(peerSystem(name, peer), async () => peer.stop());
}

/**
 * A tenant whose limits are out of the way (each at the schema's maximum): the benchmark measures
 * the engine, not admission. The dev key's tenant has the default limits (20 concurrent runs,
 * 600 requests a minute), which would queue most runs of an R=100 cell.
 */
export async function benchTenantKey(rt: Runtime): Promise<string> {
  const admin = { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" };
  const limits = { maxConcurrentRuns: 10_000, requestsPerMinute: 1_000_000, monthlyRuns: 100_000_000 };
  await ok(
    await fetch(`${rt.url}/v1/admin/tenants`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ id: "bench", name: "benchmark", limits }),
    }),
    "creating the bench tenant",
  );
  const key = await ok(
    await fetch(`${rt.url}/v1/admin/tenants/bench/keys`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "bench" }),
    }),
    "creating the bench key",
  );
  return ((await key.json()) as { key: string }).key;
}

function stoppable(system: System, stop: () => Promise<void>): Launched {
  return {
    ...system,
    async stop() {
      // Listed before the kill: once wrangler is gone, its orphaned workerd would no longer be found under it.
      const pids = processTree(system.pid()).map((p) => p.pid);
      await stop();
      const deadline = Date.now() + 10_000;
      while (alive(pids).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      // A process that left wrangler's process group would survive the group kill and load the next system.
      for (const pid of alive(pids)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 200));
      const left = alive(pids);
      if (left.length) throw new Error(`${system.name}: processes ${left.join(", ")} still run after stop`);
    },
  };
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** The runtime's step graph for a shape: every step is `system.hash` of its upstream. */
export function runtimeSteps(shape: Shape): { id: string; type: string; dependsOn?: string[] }[] {
  if (shape.kind === "chain") {
    return Array.from({ length: shape.steps }, (_, i) => ({
      id: `s${i}`,
      type: "system.hash",
      ...(i ? { dependsOn: [`s${i - 1}`] } : {}),
    }));
  }
  const branches = Array.from({ length: shape.width }, (_, i) => ({
    id: `b${i}`,
    type: "system.hash",
    dependsOn: ["root"],
  }));
  return [
    { id: "root", type: "system.hash" },
    ...branches,
    { id: "fanin", type: "system.hash", dependsOn: branches.map((b) => b.id) },
  ];
}

export function runtimeSystem(rt: Runtime, key: string): System {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const body = (w: Workload) =>
    w.kind === "microservice"
      ? { project: "bench", blueprint: "microservice", input: { name: "bench-api" } }
      : { project: "bench", steps: runtimeSteps(w) };
  return {
    name: "runtime",
    pid: () => rt.pid()!,
    async submit(w) {
      const res = await ok(
        await fetch(`${rt.url}/v1/runs`, { method: "POST", headers, body: JSON.stringify(body(w)) }),
        "runtime POST /v1/runs",
      );
      return ((await res.json()) as { id: string }).id;
    },
    async state(id) {
      const run = (await (await ok(await fetch(`${rt.url}/v1/runs/${id}`, { headers }), "runtime GET run")).json()) as {
        status: string;
        createdAt: string;
        finishedAt: string | null;
        steps: unknown[];
      };
      const terminal = ["succeeded", "failed", "cancelled"].includes(run.status);
      return {
        terminal,
        succeeded: run.status === "succeeded",
        createdAt: ms(run.createdAt),
        finishedAt: ms(run.finishedAt),
        steps: run.steps.length,
      };
    },
    createRequest: () => ({
      url: `${rt.url}/v1/runs`,
      headers,
      body: JSON.stringify(body({ kind: "chain", steps: 1 })),
    }),
  };
}

export function peerSystem(name: "workflows" | "floor", peer: Peer): System {
  const headers = { "content-type": "application/json" };
  return {
    name,
    pid: () => peer.pid,
    async submit(w) {
      const res = await ok(
        await fetch(`${peer.url}/runs`, { method: "POST", headers, body: JSON.stringify(w) }),
        `${name} POST /runs`,
      );
      return ((await res.json()) as { id: string }).id;
    },
    async state(id) {
      const s = (await (await ok(await fetch(`${peer.url}/runs/${id}`), `${name} GET run`)).json()) as {
        status?: string;
        createdAt: number | null;
        finishedAt: number | null;
      };
      if (name === "floor")
        return {
          terminal: s.finishedAt !== null,
          succeeded: s.finishedAt !== null,
          createdAt: s.createdAt,
          finishedAt: s.finishedAt,
        };
      const terminal = ["complete", "errored", "terminated"].includes(s.status ?? "");
      return { terminal, succeeded: s.status === "complete", createdAt: s.createdAt, finishedAt: s.finishedAt };
    },
    createRequest: () => ({ url: `${peer.url}/runs`, headers, body: JSON.stringify({ kind: "chain", steps: 1 }) }),
  };
}
