/**
 * The three systems the benchmark drives, behind one small interface: submit a run of a given
 * shape, and read its state with the server's own timestamps.
 */
import type { Runtime } from "../test/e2e/support/runtime.ts";
import type { Peer } from "./peers.ts";
import type { Shape } from "./peers/shape.ts";

export type SystemName = "runtime" | "workflows" | "floor";
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
  supports(w: Workload): boolean;
  submit(w: Workload): Promise<string>;
  state(id: string): Promise<RunState>;
  /** The request `POST` that creates a one-step run, for the load test. */
  createRequest(): { url: string; headers: Record<string, string>; body: string };
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** The runtime's step graph for a shape: every step is `system.hash` of its upstream. */
export function runtimeSteps(shape: Shape): { id: string; type: string; dependsOn?: string[] }[] {
  if (shape.kind === "chain") {
    return Array.from({ length: shape.steps }, (_, i) => ({ id: `s${i}`, type: "system.hash", ...(i ? { dependsOn: [`s${i - 1}`] } : {}) }));
  }
  const branches = Array.from({ length: shape.width }, (_, i) => ({ id: `b${i}`, type: "system.hash", dependsOn: ["root"] }));
  return [{ id: "root", type: "system.hash" }, ...branches, { id: "fanin", type: "system.hash", dependsOn: branches.map((b) => b.id) }];
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
    supports: () => true,
    async submit(w) {
      const res = await ok(await fetch(`${rt.url}/v1/runs`, { method: "POST", headers, body: JSON.stringify(body(w)) }), "runtime POST /v1/runs");
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
      return { terminal, succeeded: run.status === "succeeded", createdAt: ms(run.createdAt), finishedAt: ms(run.finishedAt), steps: run.steps.length };
    },
    createRequest: () => ({ url: `${rt.url}/v1/runs`, headers, body: JSON.stringify(body({ kind: "chain", steps: 1 })) }),
  };
}

export function peerSystem(name: "workflows" | "floor", peer: Peer): System {
  const headers = { "content-type": "application/json" };
  return {
    name,
    pid: () => peer.pid,
    supports: (w) => w.kind !== "microservice",
    async submit(w) {
      const res = await ok(await fetch(`${peer.url}/runs`, { method: "POST", headers, body: JSON.stringify(w) }), `${name} POST /runs`);
      return ((await res.json()) as { id: string }).id;
    },
    async state(id) {
      const s = (await (await ok(await fetch(`${peer.url}/runs/${id}`), `${name} GET run`)).json()) as {
        status?: string;
        createdAt: number | null;
        finishedAt: number | null;
      };
      if (name === "floor") return { terminal: s.finishedAt !== null, succeeded: s.finishedAt !== null, createdAt: s.createdAt, finishedAt: s.finishedAt };
      const terminal = ["complete", "errored", "terminated"].includes(s.status ?? "");
      return { terminal, succeeded: s.status === "complete", createdAt: s.createdAt, finishedAt: s.finishedAt };
    },
    createRequest: () => ({ url: `${peer.url}/runs`, headers, body: JSON.stringify({ kind: "chain", steps: 1 }) }),
  };
}
