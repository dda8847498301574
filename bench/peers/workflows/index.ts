/**
 * The Cloudflare Workflows peer: one instance per run, one `step.do` per step, each hashing
 * the previous step's output like `system.hash`. The last step's result carries its own time,
 * so a run's duration is measured by the server, as for the other systems.
 */
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { hashStep } from "../../../src/lib/work";
import { parseShape, type Shape } from "../shape";

interface Env {
  FLOW: Workflow<Shape>;
}

type Done = { hash: string; createdAt: number; finishedAt: number };

export class BenchWorkflow extends WorkflowEntrypoint<Env, Shape> {
  override async run(event: Readonly<WorkflowEvent<Shape>>, step: WorkflowStep): Promise<Done> {
    const shape = event.payload;
    const createdAt = event.timestamp.getTime();
    const last = (name: string, previous: string) =>
      step.do(name, async () => ({ hash: await hashStep(previous), createdAt, finishedAt: Date.now() }));
    if (shape.kind === "chain") {
      let previous = "";
      for (let i = 0; i < shape.steps - 1; i++) previous = await step.do(`s${i}`, () => hashStep(previous));
      return last(`s${shape.steps - 1}`, previous);
    }
    const root = await step.do("root", () => hashStep(""));
    const branches = await Promise.all(
      Array.from({ length: shape.width }, (_, i) => step.do(`b${i}`, () => hashStep(root))),
    );
    return last("fan-in", branches.join(""));
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/runs") {
      const shape = parseShape(await request.json().catch(() => null));
      if (!shape) return new Response("bad shape", { status: 400 });
      const instance = await env.FLOW.create({ params: shape });
      return Response.json({ id: instance.id }, { status: 202 });
    }
    const match = /^\/runs\/([\w-]+)$/.exec(url.pathname);
    if (request.method === "GET" && match) {
      const status = await (await env.FLOW.get(match[1]!)).status();
      const output = status.output as Done | undefined;
      return Response.json({
        status: status.status,
        error: status.error ?? null,
        createdAt: output?.createdAt ?? null,
        finishedAt: output?.finishedAt ?? null,
      });
    }
    if (url.pathname === "/healthz") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
