/** One HTTP attempt of a webhook delivery: signed, bounded in time and size, no redirects. */
import type { AttemptResult, DeliveryTask } from "../../schema/webhooks";
import { guardUrl, type OutboundGuard } from "../outbound/guard";
import { parseRetryAfter } from "../lib/retry-after";
import { signatureHeaders } from "./sign";
import { toHex } from "../lib/crypto";

const EXCERPT_CHARS = 512;
/** Read at most this much of a response; a receiver cannot make us buffer more. */
const RESPONSE_CAP_BYTES = 16 * 1024;

export async function attemptDelivery(
  task: DeliveryTask,
  opts: { timeoutMs: number; guard: OutboundGuard },
): Promise<AttemptResult> {
  const started = Date.now();
  // Checked again at send time: the rules may have tightened since the endpoint was saved, and
  // a name may now resolve to a private address (DNS rebinding). A refusal, or a resolver that
  // fails, is a failed attempt: it is recorded and retried on the schedule like any other.
  const check = await guardUrl(task.url, opts.guard);
  if (!check.ok)
    return { statusCode: null, latencyMs: Date.now() - started, excerpt: null, error: `refused URL: ${check.reason}` };
  try {
    const res = await fetch(check.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
      headers: {
        "content-type": "application/json",
        "user-agent": "FactoryRuntime-Webhooks/1",
        ...traceparent(task.payload),
        ...signatureHeaders(task.eventId, task.payload, task.secrets, new Date()),
      },
      body: task.payload,
    });
    const excerpt = await readCapped(res);
    const latencyMs = Date.now() - started;
    const redirected = res.status >= 300 && res.status < 400;
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), Date.now());
    return {
      statusCode: res.status,
      latencyMs,
      excerpt,
      error: redirected ? "redirects are not followed" : null,
      ...(retryAfterMs ? { retryAfterMs } : {}),
    };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      statusCode: null,
      latencyMs: Date.now() - started,
      excerpt: null,
      error: timedOut ? `no answer within ${opts.timeoutMs} ms` : String(err),
    };
  }
}

/** The run's trace continues into the receiver: W3C traceparent with the event's trace id. */
function traceparent(payload: string): Record<string, string> {
  const traceId = (JSON.parse(payload) as { traceId?: unknown }).traceId;
  if (typeof traceId !== "string" || !/^[0-9a-f]{32}$/.test(traceId)) return {};
  return { traceparent: `00-${traceId}-${toHex(crypto.getRandomValues(new Uint8Array(8)))}-01` };
}

async function readCapped(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_CAP_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = new TextDecoder().decode(concat(chunks).slice(0, RESPONSE_CAP_BYTES));
  return text.length > 0 ? text.slice(0, EXCERPT_CHARS) : null;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
