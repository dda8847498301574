/**
 * A run's trace in a real collector's hands (issue 26): `wrangler dev` exports over OTLP/HTTP
 * protobuf to a loopback receiver, which decodes every export with the official OpenTelemetry
 * protobuf definitions (test/fixtures/opentelemetry-proto, loaded by protobufjs) and rebuilds the
 * tree: one root, a job span per attempt (the retried step has two), parents right, no orphan, and
 * the trace id of the `traceparent` sent when the run was created.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startRuntime, waitForRun, type Runtime } from "./support/runtime";

const PROTO_ROOT = join(import.meta.dirname, "..", "fixtures", "opentelemetry-proto");

function loadRequestType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto");
  return root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
}

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString("hex");

/** The spans of one decoded ExportTraceServiceRequest. */
function spansOf(type: protobuf.Type, body: Buffer): Span[] {
  const req = type.toObject(type.decode(body), { longs: String, defaults: true }) as {
    resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
  };
  return req.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({
        traceId: hex(s.traceId as Uint8Array),
        spanId: hex(s.spanId as Uint8Array),
        parentSpanId: hex(s.parentSpanId as Uint8Array),
        name: s.name as string,
        attributes: Object.fromEntries(
          (s.attributes as { key: string; value: Record<string, unknown> }[]).map((a) => [
            a.key,
            a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? a.value.doubleValue,
          ]),
        ),
      })),
    ),
  );
}

let rt: Runtime;
const type = loadRequestType();

/**
 * A loopback OTLP/HTTP receiver. `mode`: "ok" keeps what it decodes; "fail" answers 500 and
 * counts the refused exports by trace (`refused`); "hang" never answers.
 */
function collector() {
  const c = {
    port: 0,
    server: null as Server | null,
    mode: "ok" as "ok" | "fail" | "hang",
    received: [] as Span[],
    refused: new Map<string, number>(),
    hung: [] as ServerResponse[],
    /** Headers of the exports kept. */
    headers: [] as Record<string, string | string[] | undefined>[],
    async start() {
      c.port = await freePort();
      c.server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (d: Buffer) => chunks.push(d));
        req.on("end", () => {
          if (c.mode === "hang") {
            c.hung.push(res); // the exporter's own timeout ends the try
            return;
          }
          const ok = req.url === "/v1/traces" && req.headers["content-type"] === "application/x-protobuf";
          const spans = ok ? spansOf(type, Buffer.concat(chunks)) : [];
          if (c.mode === "fail") for (const s of spans) c.refused.set(s.traceId, (c.refused.get(s.traceId) ?? 0) + 1);
          else {
            c.received.push(...spans);
            c.headers.push(req.headers);
          }
          res.writeHead(!ok ? 400 : c.mode === "fail" ? 500 : 200, { "content-type": "application/x-protobuf" }).end();
        });
      });
      await new Promise<void>((r) => c.server!.listen(c.port, "127.0.0.1", r));
    },
    /** Ends the hang: connections held by unanswered requests are closed (their exports already timed out). */
    answer() {
      c.mode = "ok";
      for (const res of c.hung.splice(0)) res.socket?.destroy();
    },
    async stop() {
      c.server?.closeAllConnections();
      await new Promise((r) => c.server?.close(r));
    },
  };
  return c;
}

/** A mocked OpenAI-compatible provider: it keeps the traceparent of every call. */
const providerTraceparents: string[] = [];
const provider = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    providerTraceparents.push(String(req.headers.traceparent ?? ""));
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        model: "mock-large",
        choices: [{ message: { content: "# Docs" } }],
        usage: { prompt_tokens: 10, completion_tokens: 5 },
      }),
    );
  });
});

const deployment = collector();
const tenantCollector = collector();

const until = async (cond: () => boolean, what: string, ms = 90_000) => {
  for (const deadline = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 100)))
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
};

beforeAll(async () => {
  await deployment.start();
  await tenantCollector.start();
  const providerPort = await freePort();
  await new Promise<void>((r) => provider.listen(providerPort, "127.0.0.1", r));
  rt = await startRuntime({
    AI_PROVIDER: "openai",
    OPENAI_BASE_URL: `http://127.0.0.1:${providerPort}/v1`,
    OPENAI_API_KEY: "sk-mock",
    AI_MODEL: "mock-large",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deployment.port}`,
    TRACE_URL_TEMPLATE: "http://jaeger.test/trace/{traceId}",
    // A hanging collector's try ends after 3 s; past 2 waiting exports the oldest are dropped.
    TELEMETRY_TIMEOUT_MS: "3000",
    TELEMETRY_MAX_BACKLOG: "2",
  });
}, 120_000);
afterAll(async () => {
  await rt?.stop();
  await deployment.stop();
  await tenantCollector.stop();
  await new Promise((r) => provider.close(r));
});

describe("OpenTelemetry export from a real `wrangler dev`", () => {
  it("a 6-step run with one retried step arrives as one tree: a root, 7 job spans under it, no orphan", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const echo = (id: string, dependsOn: string[] = []) => ({ id, type: "system.echo", input: { id }, dependsOn });
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      json: {
        project: "traced",
        steps: [
          echo("scaffold"),
          echo("api", ["scaffold"]),
          echo("db", ["scaffold"]),
          {
            id: "tests",
            type: "system.fail",
            input: { times: 1 },
            dependsOn: ["api", "db"],
            retry: { initialDelayMs: 10, maxDelayMs: 20 },
          },
          { id: "docs", type: "agent.generate", input: { prompt: "Document the API." }, dependsOn: ["api"] },
          echo("package", ["tests", "docs"]),
        ],
      },
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    // The run page links to the trace through the deployment's template.
    const view = (await (await rt.fetch(`/v1/runs/${id}`)).json()) as { traceUrl: string };
    expect(view.traceUrl).toBe(`http://jaeger.test/trace/${traceId}`);

    // The export follows the run's end from its outbox: wait for it, generously.
    const deadline = Date.now() + 60_000;
    while (
      !deployment.received.some((s) => s.name === "factory.run.execute" && s.attributes["factory.run.id"] === id)
    ) {
      if (Date.now() > deadline) throw new Error(`no root span for ${id}; got ${deployment.received.length} spans`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const spans = deployment.received.filter((s) => s.traceId === traceId);
    const unique = new Map(spans.map((s) => [s.spanId, s]));
    const roots = [...unique.values()].filter((s) => s.parentSpanId === "");
    expect(roots.map((s) => s.name)).toEqual(["factory.run.execute"]);
    expect(roots[0]!.attributes).toMatchObject({ "factory.run.status": "succeeded", "factory.run.steps": "6" });
    const jobs = [...unique.values()].filter((s) => s.name === "factory.job.execute");
    expect(jobs).toHaveLength(7);
    for (const job of jobs) expect(job.parentSpanId).toBe(roots[0]!.spanId);
    const retried = jobs.filter((j) => j.attributes["factory.step.id"] === "tests");
    expect(retried.map((j) => j.attributes["factory.job.outcome"]).sort()).toEqual(["retrying", "succeeded"]);
    // The model call: a client span under the docs step's attempt, and the provider was handed a
    // traceparent whose parent is that span.
    const docs = jobs.find((j) => j.attributes["factory.step.id"] === "docs")!;
    const external = [...unique.values()].filter((s) => s.name.startsWith("factory.external."));
    expect(external.map((s) => [s.name, s.parentSpanId])).toEqual([["factory.external.ai.openai", docs.spanId]]);
    expect(providerTraceparents).toContain(`00-${traceId}-${external[0]!.spanId}-01`);
    // The request that created the run: a server span by the HTTP conventions, under the root.
    const http = [...unique.values()].filter((s) => s.attributes["http.route"] !== undefined);
    expect(http.map((s) => [s.name, s.parentSpanId])).toEqual([["POST /v1/runs", roots[0]!.spanId]]);
    expect(http[0]!.attributes).toMatchObject({ "http.request.method": "POST", "http.response.status_code": "202" });
    // No orphan: every parent is a span of the trace.
    for (const s of unique.values()) if (s.parentSpanId) expect(unique.has(s.parentSpanId)).toBe(true);
    // A span sent twice (a retried export) keeps its id: duplicates are only ever equal ids.
    expect(spans.length % unique.size).toBe(0);
  }, 180_000);

  it("a gate's decision and a signal are server spans of the run's trace, under its root", async () => {
    const traceId = "5cf92f3577b34da6a3ce929d0e0e4737";
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b8-01` },
      json: {
        project: "traced-gates",
        steps: [
          { id: "gate", type: "approval", input: { title: "Ship?", approvers: { allowRequester: true } } },
          { id: "wait", type: "signal", input: { name: "go" } },
        ],
      },
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const stepsWaiting = async () => {
      const run = (await (await rt.fetch(`/v1/runs/${id}`)).json()) as { steps: { status: string }[] };
      return run.steps.every((s) => s.status === "waiting");
    };
    for (const deadline = Date.now() + 60_000; !(await stepsWaiting()); await new Promise((r) => setTimeout(r, 100)))
      if (Date.now() > deadline) throw new Error("the gate and the signal step never both waited");
    const approved = await rt.fetch(`/v1/runs/${id}/steps/gate/approve`, { method: "POST", json: {} });
    expect(approved.status).toBe(200);
    expect((await rt.fetch(`/v1/runs/${id}/signals/go`, { method: "POST", json: { ok: true } })).status).toBe(200);
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    await until(
      () => deployment.received.some((s) => s.name === "factory.run.execute" && s.attributes["factory.run.id"] === id),
      `the root span of ${id}`,
    );
    const unique = new Map(deployment.received.filter((s) => s.traceId === traceId).map((s) => [s.spanId, s]));
    const root = [...unique.values()].find((s) => s.parentSpanId === "")!;
    const http = [...unique.values()].filter((s) => s.attributes["http.route"] !== undefined);
    expect(http.map((s) => [s.name, s.parentSpanId]).sort()).toEqual(
      [
        ["POST /v1/runs", root.spanId],
        ["POST /v1/runs/{id}/signals/{name}", root.spanId],
        ["POST /v1/runs/{id}/steps/{stepId}/approve", root.spanId],
      ].sort(),
    );
    const approve = http.find((s) => s.name.endsWith("/approve"))!;
    expect(approve.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.response.status_code": "200",
      "factory.step.id": "gate",
    });
    expect(http.find((s) => s.name.endsWith("/{name}"))!.attributes).toMatchObject({ "factory.step.id": "wait" });
  }, 180_000);

  it("a collector answering 500 does not hold the run; the export is retried until it is taken", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    deployment.mode = "fail";
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      json: { project: "traced", steps: [{ id: "a", type: "system.echo", input: {} }] },
    });
    const { id } = (await created.json()) as { id: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    // Refused twice: the row stayed and came back.
    await until(() => (deployment.refused.get(traceId) ?? 0) >= 4, "two refused exports of the run's spans");
    deployment.mode = "ok";
    await until(
      () => deployment.received.some((s) => s.traceId === traceId && s.name === "factory.run.execute"),
      "the export taken",
    );
    const taken = deployment.received.filter((s) => s.traceId === traceId);
    const ids = new Set(taken.map((s) => s.spanId));
    expect(ids.size).toBe(3); // the root, the one attempt, the request that created the run
    expect(taken).toHaveLength(3); // taken once: the refused tries left nothing behind
  }, 180_000);

  it("a tenant's own collector gets its runs' spans with its secret header, besides the deployment's", async () => {
    const secret = await rt.fetch("/v1/secrets/honeycomb", { method: "PUT", json: { value: "hc-e2e-value" } });
    expect(secret.status).toBe(201);
    const put = await rt.fetch("/v1/telemetry", {
      method: "PUT",
      json: {
        endpoint: `http://127.0.0.1:${tenantCollector.port}`,
        headers: { "x-honeycomb-team": { $secret: "honeycomb" } },
      },
    });
    expect(put.status).toBe(200);
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      json: { project: "traced", steps: [{ id: "a", type: "system.echo", input: {} }] },
    });
    const { id, traceId } = (await created.json()) as { id: string; traceId: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    const root = (c: ReturnType<typeof collector>) =>
      c.received.some((s) => s.traceId === traceId && s.name === "factory.run.execute");
    await until(() => root(tenantCollector) && root(deployment), "the run's root span at both collectors");
    expect(tenantCollector.headers.at(-1)?.["x-honeycomb-team"]).toBe("hc-e2e-value");
  }, 180_000);

  it("a hanging collector: runs finish, the oldest waiting exports are dropped and counted, the rest arrive once", async () => {
    const put = await rt.fetch("/v1/telemetry", {
      method: "PUT",
      json: { endpoint: `http://127.0.0.1:${tenantCollector.port}` },
    });
    expect(put.status).toBe(200);
    tenantCollector.mode = "hang";
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await rt.fetch("/v1/runs", {
        method: "POST",
        json: { project: "hung", steps: [{ id: "a", type: "system.echo", input: { i } }] },
      });
      ids.push(((await created.json()) as { id: string }).id);
    }
    for (const id of ids) expect((await waitForRun(rt, id)).status).toBe("succeeded");
    const dropped = () =>
      [
        ...rt
          .output()
          .matchAll(
            /"msg":"telemetry\.dropped","runId":"(run_[a-z0-9]+)","traceId":"[0-9a-f]+","collector":"tenant","reason":"backlog"/g,
          ),
      ]
        .map((m) => m[1]!)
        .filter((id) => ids.includes(id));
    // 4 exports wait on one collector, 2 may: the 2 oldest go, each with a telemetry.dropped point.
    await until(() => new Set(dropped()).size >= 2, "two exports dropped from the backlog");
    tenantCollector.answer();
    const arrived = (id: string) =>
      tenantCollector.received.filter((s) => s.name === "factory.run.execute" && s.attributes["factory.run.id"] === id);
    const kept = ids.filter((id) => !dropped().includes(id));
    await until(() => kept.every((id) => arrived(id).length > 0), "the kept exports arrive").catch((err) => {
      console.log(
        rt
          .output()
          .split("\n")
          .filter((l) => l.includes("telemetry"))
          .slice(-40)
          .join("\n"),
      );
      throw err;
    });
    expect(kept).toHaveLength(2); // the 2 newest waited; only the 2 oldest were pushed out
    for (const id of kept) expect(arrived(id)).toHaveLength(1);
    for (const id of new Set(dropped())) expect(arrived(id)).toHaveLength(0);
  }, 240_000);
});
