/**
 * `npm run bench:profile`: a CPU profile of the runtime's isolate (Worker and Durable Objects
 * alike; locally they share it) while it runs one benchmark workload, taken over the DevTools
 * protocol of `wrangler dev`'s inspector. Prints the functions with the most self time and the
 * heaviest call paths into our code, and writes the .cpuprofile (open it in Chrome DevTools).
 *
 * PROFILE_STEPS (default 1) and PROFILE_RUNS (default 100) shape the workload.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRuntime } from "../test/e2e/support/runtime.ts";
import { benchTenantKey, runtimeSystem } from "./systems.ts";

const STEPS = Number(process.env.PROFILE_STEPS ?? 1);
const RUNS = Number(process.env.PROFILE_RUNS ?? 100);
const OUT = join(import.meta.dirname, "results", `profile-s${STEPS}-r${RUNS}.cpuprofile`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A minimal DevTools protocol client over the inspector's WebSocket. */
async function devtools(port: number) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    webSocketDebuggerUrl: string;
    title?: string;
  }[];
  const target = targets[0];
  if (!target) throw new Error("the inspector lists no target");
  // wrangler's inspector proxy wants an Origin it trusts; undici's WebSocket takes headers.
  const ws = new WebSocket(target.webSocketDebuggerUrl, {
    headers: { origin: "http://localhost" },
  } as unknown as string[]);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let next = 1;
  const pending = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (m: { data: unknown }) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)!(msg.error ? Promise.reject(new Error(JSON.stringify(msg.error))) : msg.result);
      pending.delete(msg.id);
    }
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const id = next++;
        pending.set(id, resolve as (r: unknown) => void);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/**
 * Self time per function, and inclusive time per JavaScript function (each sample counted once
 * per function on its stack). wrangler bundles the Worker into one index.js, so functions are
 * named with their line in that bundle (.wrangler/tmp/dev-…/index.js).
 */
function summarize(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const label = (n: ProfileNode) => {
    const file = n.callFrame.url.replace(/^.*\/(src|schema|node_modules)\//, "$1/");
    return `${n.callFrame.functionName || "(anonymous)"} ${file}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    total += us;
    if (node.callFrame.functionName === "(idle)") idle += us;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    // Each JavaScript function on the stack gets the sample once (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url) continue; // native frames and the VM's own (idle, program, GC)
      const l = label(n);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { total, idle, self: top(self, 30), inclusive: top(inclusive, 40) };
}

const rt = await startRuntime({ ENVIRONMENT: "development" });
try {
  const system = runtimeSystem(rt, await benchTenantKey(rt));
  const workload = { kind: "chain" as const, steps: STEPS };
  // Warm up: code compiled, the tenant's object and queues alive.
  await Promise.all(Array.from({ length: 10 }, () => system.submit(workload)));
  await new Promise((r) => setTimeout(r, 3_000));

  const dt = await devtools(rt.inspectorPort());
  await dt.send("Profiler.enable");
  await dt.send("Profiler.setSamplingInterval", { interval: 200 });
  await dt.send("Profiler.start");
  const started = Date.now();
  const ids = await Promise.all(Array.from({ length: RUNS }, () => system.submit(workload)));
  for (const id of ids) while (!(await system.state(id)).terminal) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2_500)); // the tail: webhook batches, tenant syncs
  const { profile } = await dt.send<{ profile: Profile }>("Profiler.stop");
  dt.close();
  const wall = Date.now() - started;

  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(OUT, JSON.stringify(profile));
  const { total, idle, self, inclusive } = summarize(profile);
  const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
  const perRun = (us: number) => (us / 1000 / RUNS).toFixed(2).padStart(6);
  console.log(
    `S=${STEPS}, R=${RUNS}: ${wall} ms wall, ${ms(total - idle)} ms busy in the isolate (${perRun(total - idle)} ms per run)\n`,
  );
  console.log("self time (ms total, ms per run):");
  for (const [l, us] of self) console.log(`${ms(us)} ${perRun(us)}  ${l}`);
  console.log("\ninclusive time of JavaScript functions:");
  for (const [l, us] of inclusive) console.log(`${ms(us)} ${perRun(us)}  ${l}`);
  console.log(`\nprofile: ${OUT}`);
} finally {
  await rt.stop();
}
