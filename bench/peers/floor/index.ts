/**
 * The platform floor: the least our design can do per step on this platform. A step is a queue
 * message → this Worker's consumer (hashes, like `system.hash`) → one RPC to the run's Durable
 * Object, which records the result in SQLite and enqueues the next step. No leases, retries,
 * events or validation.
 */
import { DurableObject } from "cloudflare:workers";
import { hashStep } from "../../../src/lib/work";
import { parseShape, stepCount, type Shape } from "../shape";

interface Env {
  RUN: DurableObjectNamespace<FloorRun>;
  STEPS: Queue<StepMessage>;
}

/** `previous` is what the step hashes: its upstream's hash (a fan-in's, joined in order). */
type StepMessage = { run: string; step: number; previous: string };

export class FloorRun extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS run (id TEXT, shape TEXT, created_at INTEGER, finished_at INTEGER)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS result (step INTEGER PRIMARY KEY, hash TEXT NOT NULL)");
  }

  async start(id: string, shape: Shape): Promise<void> {
    this.sql.exec("INSERT INTO run VALUES (?, ?, ?, NULL)", id, JSON.stringify(shape), Date.now());
    await this.env.STEPS.send({ run: id, step: 0, previous: "" });
  }

  /** Records a step's result and enqueues what it unblocks. */
  async record(step: number, hash: string): Promise<void> {
    const inserted = this.sql
      .exec("INSERT OR IGNORE INTO result VALUES (?, ?) RETURNING step", step, hash)
      .toArray().length;
    if (!inserted) return; // a redelivered message
    const run = this.sql.exec<{ id: string; shape: string }>("SELECT id, shape FROM run").one();
    const shape = JSON.parse(run.shape) as Shape;
    const last = stepCount(shape) - 1;
    if (step === last) {
      this.sql.exec("UPDATE run SET finished_at = ?", Date.now());
    } else if (shape.kind === "chain") {
      await this.env.STEPS.send({ run: run.id, step: step + 1, previous: hash });
    } else if (step === 0) {
      const branches = Array.from({ length: shape.width }, (_, i) => ({
        body: { run: run.id, step: i + 1, previous: hash },
      }));
      for (let i = 0; i < branches.length; i += 100) await this.env.STEPS.sendBatch(branches.slice(i, i + 100));
    } else {
      const done = this.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM result WHERE step BETWEEN 1 AND ?", shape.width)
        .one().n;
      if (done === shape.width) {
        const joined = this.sql
          .exec<{ hash: string }>("SELECT hash FROM result WHERE step BETWEEN 1 AND ? ORDER BY step", shape.width)
          .toArray();
        await this.env.STEPS.send({ run: run.id, step: last, previous: joined.map((r) => r.hash).join("") });
      }
    }
  }

  async status(): Promise<{ createdAt: number; finishedAt: number | null; steps: number } | null> {
    const run = this.sql
      .exec<{ created_at: number; finished_at: number | null }>("SELECT created_at, finished_at FROM run")
      .toArray()[0];
    if (!run) return null;
    const steps = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM result").one().n;
    return { createdAt: run.created_at, finishedAt: run.finished_at, steps };
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/runs") {
      const shape = parseShape(await request.json().catch(() => null));
      if (!shape) return new Response("bad shape", { status: 400 });
      const id = crypto.randomUUID();
      await env.RUN.getByName(id).start(id, shape);
      return Response.json({ id }, { status: 202 });
    }
    const match = /^\/runs\/([\w-]+)$/.exec(url.pathname);
    if (request.method === "GET" && match) {
      const status = await env.RUN.getByName(match[1]!).status();
      return status ? Response.json(status) : new Response("no such run", { status: 404 });
    }
    if (url.pathname === "/healthz") return new Response("ok");
    return new Response("not found", { status: 404 });
  },

  async queue(batch, env) {
    await Promise.all(
      batch.messages.map(async (message) => {
        const { run, step, previous } = message.body;
        await env.RUN.getByName(run).record(step, await hashStep(previous));
        message.ack();
      }),
    );
  },
} satisfies ExportedHandler<Env, StepMessage>;
