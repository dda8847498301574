/**
 * Starts the real runtime — `wrangler dev`, workerd, local queues, DOs and R2 — as a child
 * process group on a free port with its own state directory, and can kill -9 and restart it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";
const base32 = (n: number) => [...randomBytes(n)].map((b) => BASE32[b & 31]).join("");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface Runtime {
  url: string;
  key: string;
  adminToken: string;
  /** Its `--persist-to` directory: the objects' SQLite files, R2 and the rest of local state. */
  stateDir: string;
  /** The DevTools inspector port of the current launch (for profiling). */
  inspectorPort(): number;
  /** The wrangler process (the root of its process tree), while it runs. */
  pid(): number | undefined;
  /** kill -9 the whole process tree: no graceful shutdown, in-memory queue contents are lost. */
  crash(): void;
  /** Starts again on the same port and state directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  fetch(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** The same runtime, whose `fetch` presents `key` (another tenant's) instead of the dev key. */
  as(key: string): Runtime;
  /** Everything wrangler dev printed so far (the Worker's logs included). */
  output(): string;
}

export async function startRuntime(vars: Record<string, string> = {}): Promise<Runtime> {
  // wrangler dev refuses to start without the dashboard's assets directory; the npm scripts
  // build it first, a test file run directly (npx vitest run …) may not have.
  if (!existsSync(join(ROOT, "dist", "dashboard", "index.html")))
    execFileSync(process.execPath, [join(ROOT, "scripts", "build-dashboard.mjs")], { stdio: "inherit" });
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "factory-e2e-"));
  const key = `frk_dev_${base32(12)}_${base32(40)}`;
  const adminToken = randomBytes(24).toString("hex");
  const allVars: Record<string, string> = {
    DEV_API_KEY: key,
    ADMIN_TOKEN: adminToken,
    DECISION_LINK_SECRET: randomBytes(24).toString("hex"),
    FINGERPRINT_KEY: randomBytes(32).toString("hex"),
    SECRETS_KEY: randomBytes(32).toString("hex"),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ENVIRONMENT: "development",
    ENABLE_DIAGNOSTIC_JOBS: "true",
    ...vars,
  };
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let output = "";
  let inspector = 0;

  const launch = async () => {
    inspector = await freePort();
    child = spawn(
      join(ROOT, "node_modules", ".bin", "wrangler"),
      [
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspector),
        "--persist-to",
        state,
        "--show-interactive-dev-session=false",
        ...Object.entries(allVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      {
        cwd: ROOT,
        detached: true, // its own process group, so crash() takes workerd down with it
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true" },
      },
    );
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`wrangler dev did not come up:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const kill = () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child = null;
  };

  await launch();
  const client = (presented: string): Runtime => ({
    url,
    key: presented,
    adminToken,
    stateDir: state,
    inspectorPort: () => inspector,
    pid: () => child?.pid,
    crash: kill,
    restart: launch,
    async stop() {
      kill();
      rmSync(state, { recursive: true, force: true });
    },
    fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${presented}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      const method = (init.method ?? "GET").toUpperCase();
      // Starting a run is made repeatable, so that the retry below cannot start a second one.
      if (method === "POST" && path === "/v1/runs" && !headers.has("idempotency-key"))
        headers.set("idempotency-key", `e2e-${base32(20)}`);
      const repeatable = method === "GET" || method === "HEAD" || headers.has("idempotency-key");
      const send = () => fetch(`${url}${path}`, { ...init, headers, body });
      // undici reuses a kept-alive socket that wrangler dev may have just closed: the request then
      // fails with "other side closed" before the runtime saw it (seen once under load). One retry
      // on a fresh socket, only for a request that is safe to repeat.
      return send().catch((err: unknown) => {
        if (!repeatable || !reusedSocketClosed(err)) throw err;
        return send();
      });
    },
    as: client,
    output: () => output,
  });
  return client(key);
}

/** The errors of a request sent on a kept-alive socket that the server had closed. */
function reusedSocketClosed(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } } | null)?.cause?.code;
  return code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "UND_ERR_CLOSED";
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export async function waitForRun(
  rt: Runtime,
  id: string,
  timeoutMs = 60_000,
): Promise<{ status: string; steps: { id: string; status: string; attempts: number }[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await rt.fetch(`/v1/runs/${id}`).catch(() => null);
    if (res?.ok) {
      const run = (await res.json()) as { status: string; steps: { id: string; status: string; attempts: number }[] };
      if (TERMINAL.has(run.status)) return run;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status}: ${JSON.stringify(run.steps)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
