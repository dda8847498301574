/**
 * Calls to a Git host's REST API (GitHub, Azure DevOps), with one mapping of failures: refused
 * credentials are final (`delivery.auth_failed`), an unreachable or failing host is retried
 * (`delivery.remote_unavailable`), anything else it refuses is final (`delivery.remote_refused`).
 * Answers are read with a size cap; nothing of a request's credentials is ever put in an error.
 */
import { AppError, NonRetryableError } from "../../../errors";
import { type ExternalCall, untraced } from "../../../lib/trace";

const MAX_ANSWER_BYTES = 1024 * 1024;
const TIMEOUT_MS = 20_000;

export interface RestCall {
  method: "GET" | "POST";
  url: string;
  authorization: string;
  headers?: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
  /** The attempt's tracer: the call is a `factory.external.{service}` span and carries its traceparent. */
  external?: ExternalCall;
}

/** The span's service: the Git host's API the call goes to. */
function serviceOf(url: string): string {
  const host = new URL(url).hostname;
  if (host === "dev.azure.com" || host.endsWith(".visualstudio.com")) return "azure-devops";
  return host === "api.github.com" || host.endsWith(".github.com") ? "github" : "git-host";
}

/** The JSON answer of a 2xx, or null for a 404 when `allowMissing`; throws our codes otherwise. */
export async function rest<T>(call: RestCall, allowMissing = false): Promise<T | null> {
  let res: Response;
  try {
    res = await (call.external ?? untraced)(serviceOf(call.url), (traceparent) =>
      fetch(call.url, {
        method: call.method,
        redirect: "manual",
        headers: {
          authorization: call.authorization,
          accept: "application/json",
          "user-agent": "factory-runtime",
          ...(call.body === undefined ? {} : { "content-type": "application/json" }),
          ...(traceparent ? { traceparent } : {}),
          ...call.headers,
        },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: AbortSignal.any([call.signal, AbortSignal.timeout(TIMEOUT_MS)]),
      }),
    );
  } catch (err) {
    throw new AppError("delivery.remote_unavailable", `${call.method} ${pathOf(call.url)} failed: ${String(err)}`);
  }
  const text = await readCapped(res);
  if (res.status === 401 || res.status === 403)
    throw new NonRetryableError("delivery.auth_failed", `${pathOf(call.url)} refused the credentials (${res.status})`);
  if (res.status === 404 && allowMissing) return null;
  if (res.status >= 500 || res.status === 429)
    throw new AppError("delivery.remote_unavailable", `${pathOf(call.url)} answered ${res.status}`);
  if (res.status < 200 || res.status >= 300)
    throw new NonRetryableError(
      "delivery.remote_refused",
      `${pathOf(call.url)} answered ${res.status}: ${text.slice(0, 300)}`,
    );
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new NonRetryableError(
      "delivery.remote_refused",
      `${pathOf(call.url)} answered with something that is not JSON`,
    );
  }
}

/** A URL's path, for messages: never its query (a token could travel there) or userinfo. */
const pathOf = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
};

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new NonRetryableError("delivery.remote_refused", "the host's answer is too large");
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
}

/** `Basic` with a PAT, as Azure DevOps documents it (empty user name). */
export const basicAuth = (user: string, secret: string) =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${secret}`)))}`;
