// A runnable worker on the TypeScript SDK (Node 22.18+ runs it as is):
//
//   FACTORY_URL=http://127.0.0.1:8787 FACTORY_WORKER_TOKEN=fwk_external_… node sdk/worker/examples/worker.ts
//
// It runs `external.task` steps whose `kind` is fibonacci, sleep or report. SIGTERM stops it
// gracefully: a step still running after the grace is given back and re-leased by another worker.
import { createWorker, fatal } from "../src/index.ts";

const token = process.env.FACTORY_WORKER_TOKEN;
if (!token) {
  console.error("FACTORY_WORKER_TOKEN is required");
  process.exit(2);
}
const name = process.env.WORKER_NAME ?? `ts-worker-${process.pid}`;

const worker = createWorker({
  url: process.env.FACTORY_URL ?? "http://127.0.0.1:8787",
  token,
  pool: process.env.FACTORY_POOL ?? "external",
  workerId: name,
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 2),
  ...(process.env.WORKER_GRACE_MS ? { shutdownGraceMs: Number(process.env.WORKER_GRACE_MS) } : {}),
  handlers: {
    async fibonacci(input) {
      const n = Number(input.n ?? 30);
      if (!Number.isInteger(n) || n < 0 || n > 10_000) throw fatal("n must be an integer in 0..10000");
      let [a, b] = [0n, 1n];
      for (let i = 0; i < n; i++) [a, b] = [b, a + b];
      return { n, value: a.toString(), by: name };
    },
    async sleep(input, ctx) {
      const ms = Number(input.ms ?? 1_000);
      ctx.log(`sleeping ${ms} ms`, { worker: name });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        });
      });
      return { sleptMs: ms, by: name };
    },
    async report(input, ctx) {
      const title = String(input.title ?? "Report");
      await ctx.artifact("report.md", `# ${title}\n\nWritten by ${name}.\n`, "text/markdown");
      return { title, by: name };
    },
  },
});

await worker.start();
process.exit(0);
