#!/usr/bin/env node
// A reference external worker for Factory Runtime, in plain Node (≥ 18, no dependencies).
// It leases `external.task` steps from a pool over HTTP, runs the handler its `kind` names,
// heartbeats while it works, uploads artifacts and reports the outcome.
//
//   FACTORY_URL=http://127.0.0.1:8787 FACTORY_WORKER_TOKEN=fwk_external_… node worker.mjs
//
// If this process dies mid-step, the step's lease lapses in the runtime and another worker gets
// the step as a new attempt; anything this one still sends for the old attempt is refused.

const url = (process.env.FACTORY_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const token = process.env.FACTORY_WORKER_TOKEN;
const pool = process.env.FACTORY_POOL ?? "external";
const name = process.env.WORKER_NAME ?? `worker-${process.pid}`;
if (!token) {
  console.error("FACTORY_WORKER_TOKEN is required");
  process.exit(2);
}

const call = (path, init = {}) =>
  fetch(`${url}/v1/pools/${pool}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
const post = (path, body) =>
  call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** The kinds of task this worker can run. Each gets its payload and a small context. */
const handlers = {
  async fibonacci({ n = 30 }) {
    let [a, b] = [0n, 1n];
    for (let i = 0; i < n; i++) [a, b] = [b, a + b];
    return { output: { n, value: a.toString() } };
  },
  async sleep({ ms = 1000 }, ctx) {
    for (let left = ms; left > 0; left -= 250) {
      await new Promise((r) => setTimeout(r, Math.min(250, left)));
      if (!(await ctx.heartbeat())) throw new Error("the lease lapsed");
    }
    return { output: { sleptMs: ms, by: name } };
  },
  async report({ title = "Report" }, ctx) {
    await ctx.upload("report.md", `# ${title}\n\nWritten by ${name}.\n`, "text/markdown");
    return { output: { title }, artifacts: ["report.md"] };
  },
};

let stopping = false;
process.on("SIGTERM", () => (stopping = true));
process.on("SIGINT", () => (stopping = true));

while (!stopping) {
  let res;
  try {
    res = await post("/leases", { waitMs: 5000 });
  } catch {
    await new Promise((r) => setTimeout(r, 1000)); // the runtime is unreachable: try again
    continue;
  }
  if (res.status === 204) continue;
  if (!res.ok) {
    console.error(`lease failed: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 1000));
    continue;
  }
  const { lease } = await res.json();
  const at = `/leases/${encodeURIComponent(lease.id)}`;
  const ctx = {
    // 409 (lapsed) or 404 (no longer ours) both mean stop; a network blip does not.
    heartbeat: async () => {
      const status = (await post(`${at}/heartbeat`, {}).catch(() => null))?.status;
      return status !== 409 && status !== 404;
    },
    upload: async (file, body, type) => {
      const up = await call(`${at}/artifacts/${encodeURIComponent(file)}`, {
        method: "PUT",
        headers: { "content-type": type },
        body,
      });
      if (!up.ok) throw new Error(`upload of ${file} failed: ${up.status}`);
    },
  };
  // The lease id is a secret held with the token: logs name the attempt instead.
  const attempt = { runId: lease.runId, stepId: lease.stepId, attempt: lease.attempt };
  console.log(JSON.stringify({ msg: "leased", worker: name, ...attempt, kind: lease.input.kind }));
  // Claim the lease at once: one unused for the runtime's LEASE_CLAIM_MS (10 s) is given back.
  if (!(await ctx.heartbeat())) continue;
  const handler = handlers[lease.input.kind];
  let result;
  try {
    if (!handler) throw Object.assign(new Error(`no handler for kind '${lease.input.kind}'`), { retryable: false });
    const { output, artifacts = [] } = await handler(lease.input.payload ?? {}, ctx);
    result = { outcome: "succeeded", output, artifacts };
  } catch (err) {
    result = {
      outcome: "failed",
      error: { code: "worker.error", message: String(err?.message ?? err), retryable: err?.retryable !== false },
    };
  }
  const done = await post(`${at}/result`, result).catch(() => null);
  console.log(JSON.stringify({ msg: "reported", worker: name, ...attempt, status: done?.status ?? "unreachable" }));
}
