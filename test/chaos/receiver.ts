/**
 * The chaos drill's webhook receiver: a plain HTTP server in the test process that verifies every
 * request with the Standard Webhooks reference library, refuses each delivery's first one or two
 * tries with a 500 (so the runtime's retries are part of the drill), and records what it accepted.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { freePort } from "../e2e/support/runtime";

/** What one accepted delivery said about its event. */
export interface Received {
  webhookId: string;
  runId: string;
  seq: number;
  type: string;
  /** Requests that carried this webhook-id, refused ones included. */
  tries: number;
  /** Requests answered 2xx: more than one is a redelivery, which deduplication absorbs. */
  accepted: number;
}

export interface Receiver {
  url: string;
  /** The endpoint's signing secret, once registered. */
  setSecret(secret: string): void;
  /** Accepted deliveries by webhook-id. */
  readonly received: ReadonlyMap<string, Received>;
  /** Requests that failed verification or did not parse: forged, mangled, or signed with the wrong secret. */
  readonly unverified: number;
  /** Requests answered 500 on purpose. */
  readonly refused: number;
  close(): Promise<void>;
}

/** How many tries of a delivery are refused: one or two, fixed per webhook-id so reruns agree. */
export function refusals(webhookId: string): number {
  let h = 0;
  for (const c of webhookId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1 + (h % 2);
}

export async function startReceiver(): Promise<Receiver> {
  const port = await freePort();
  let verifier: Webhook | null = null;
  const tries = new Map<string, number>();
  const received = new Map<string, Received>();
  let unverified = 0;
  let refused = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let event: { eventId?: unknown; runId?: unknown; seq?: unknown; type?: unknown };
      try {
        if (!verifier) throw new Error("no secret yet");
        event = verifier.verify(raw, headerRecord(req.headers)) as typeof event;
      } catch {
        unverified++;
        res.writeHead(400).end();
        return;
      }
      const webhookId = String(req.headers["webhook-id"]);
      const n = (tries.get(webhookId) ?? 0) + 1;
      tries.set(webhookId, n);
      if (n <= refusals(webhookId)) {
        refused++;
        res.writeHead(500).end("not yet");
        return;
      }
      const seen = received.get(webhookId);
      if (seen) {
        seen.tries = n;
        seen.accepted++;
      } else {
        received.set(webhookId, {
          webhookId,
          runId: String(event.runId),
          seq: Number(event.seq),
          type: String(event.type),
          tries: n,
          accepted: 1,
        });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    setSecret: (secret) => (verifier = new Webhook(secret)),
    received,
    get unverified() {
      return unverified;
    },
    get refused() {
      return refused;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The library wants a flat record of strings; node gives arrays for repeated headers. */
function headerRecord(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}
