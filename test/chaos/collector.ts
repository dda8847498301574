/**
 * The chaos drill's OTLP/HTTP collector: a loopback server that decodes every export with the
 * official OpenTelemetry protobuf definitions (test/fixtures/opentelemetry-proto) and keeps each
 * span it receives, duplicates included, so the drill can check that every span of every run
 * arrived across the kills and that a span sent twice kept its id.
 */
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import protobuf from "protobufjs";
import { freePort } from "../e2e/support/runtime";

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  runId: string | undefined;
}

const PROTO_ROOT = join(import.meta.dirname, "..", "fixtures", "opentelemetry-proto");
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString("hex");

function requestType(): protobuf.Type {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto");
  return root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
}

export async function startCollector(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const type = requestType();
  const spans: ReceivedSpan[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const decoded = type.toObject(type.decode(Buffer.concat(chunks)), { defaults: true }) as {
        resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
      };
      for (const rs of decoded.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) {
            const attrs = s.attributes as { key: string; value: { stringValue?: string } }[];
            spans.push({
              traceId: hex(s.traceId as Uint8Array),
              spanId: hex(s.spanId as Uint8Array),
              parentSpanId: hex(s.parentSpanId as Uint8Array),
              name: s.name as string,
              runId: attrs.find((a) => a.key === "factory.run.id")?.value.stringValue,
            });
          }
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
