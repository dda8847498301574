/**
 * A run's trace in a real collector's hands (issue 26): `wrangler dev` exports over OTLP/HTTP
 * protobuf to a loopback receiver, which decodes every export with the official OpenTelemetry
 * protobuf definitions (test/fixtures/opentelemetry-proto, loaded by protobufjs) and rebuilds the
 * tree: one root, a job span per attempt (the retried step has two), parents right, no orphan, and
 * the trace id of the `traceparent` sent when the run was created.
 */
import { createServer, type Server } from "node:http";
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
let server: Server;
const received: Span[] = [];
/** While set, the collector answers 500 and keeps nothing; `refused` counts the exports it refused, by trace. */
let failing = false;
const refused = new Map<string, number>();
const type = loadRequestType();

beforeAll(async () => {
  const port = await freePort();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const ok = req.url === "/v1/traces" && req.headers["content-type"] === "application/x-protobuf";
      const spans = ok ? spansOf(type, Buffer.concat(chunks)) : [];
      if (failing) for (const s of spans) refused.set(s.traceId, (refused.get(s.traceId) ?? 0) + 1);
      else received.push(...spans);
      res.writeHead(!ok ? 400 : failing ? 500 : 200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  rt = await startRuntime({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    TRACE_URL_TEMPLATE: "http://jaeger.test/trace/{traceId}",
  });
}, 120_000);
afterAll(async () => {
  await rt?.stop();
  await new Promise((r) => server?.close(r));
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
          echo("docs", ["api"]),
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
    while (!received.some((s) => s.name === "factory.run.execute" && s.attributes["factory.run.id"] === id)) {
      if (Date.now() > deadline) throw new Error(`no root span for ${id}; got ${received.length} spans`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const spans = received.filter((s) => s.traceId === traceId);
    const unique = new Map(spans.map((s) => [s.spanId, s]));
    const roots = [...unique.values()].filter((s) => s.parentSpanId === "");
    expect(roots.map((s) => s.name)).toEqual(["factory.run.execute"]);
    expect(roots[0]!.attributes).toMatchObject({ "factory.run.status": "succeeded", "factory.run.steps": "6" });
    const jobs = [...unique.values()].filter((s) => s.name === "factory.job.execute");
    expect(jobs).toHaveLength(7);
    for (const job of jobs) expect(job.parentSpanId).toBe(roots[0]!.spanId);
    const retried = jobs.filter((j) => j.attributes["factory.step.id"] === "tests");
    expect(retried.map((j) => j.attributes["factory.job.outcome"]).sort()).toEqual(["retrying", "succeeded"]);
    // No orphan: every parent is a span of the trace.
    for (const s of unique.values()) if (s.parentSpanId) expect(unique.has(s.parentSpanId)).toBe(true);
    // A span sent twice (a retried export) keeps its id: duplicates are only ever equal ids.
    expect(spans.length % unique.size).toBe(0);
  }, 180_000);

  it("a collector answering 500 does not hold the run; the export is retried until it is taken", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    failing = true;
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      json: { project: "traced", steps: [{ id: "a", type: "system.echo", input: {} }] },
    });
    const { id } = (await created.json()) as { id: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");
    const until = async (cond: () => boolean, what: string) => {
      for (const deadline = Date.now() + 90_000; !cond(); await new Promise((r) => setTimeout(r, 100)))
        if (Date.now() > deadline) throw new Error(`not within 90 s: ${what}`);
    };
    // Refused twice: the row stayed and came back.
    await until(() => (refused.get(traceId) ?? 0) >= 4, "two refused exports of the run's spans");
    failing = false;
    await until(
      () => received.some((s) => s.traceId === traceId && s.name === "factory.run.execute"),
      "the export taken",
    );
    const ids = new Set(received.filter((s) => s.traceId === traceId).map((s) => s.spanId));
    expect(ids.size).toBe(2); // the root and the one attempt
  }, 180_000);
});
