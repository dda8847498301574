/**
 * The SDK's HTTP calls to the runtime's pull API, each retried with capped exponential backoff and
 * full jitter on what may pass (network errors, 5xx, 429 with its Retry-After). Retrying every lease
 * call is safe because the runtime fences them: a duplicate heartbeat only extends the same lease,
 * an artifact upload overwrites the same attempt's bytes, and a second result or release of a lease
 * already spent is refused (404/409) without changing anything.
 */

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 200, maxMs: 5_000 };

export interface ApiOptions {
  url: string;
  token: string;
  pool: string;
  retry: RetryPolicy;
  fetch: typeof fetch;
}

/** An answer the runtime gave (not retried further): its status and parsed body, if JSON. */
export interface Answer {
  status: number;
  body: unknown;
}

/** A call that could not get an answer within its retries. */
export class UnreachableError extends Error {
  override readonly name = "UnreachableError";
}

const retryable = (status: number) => status === 429 || status >= 500;

/** Delay before try `n` (1-based retries): full jitter under an exponential cap, or the server's word. */
export function backoff(policy: RetryPolicy, n: number, retryAfter: string | null, random = Math.random): number {
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1_000, policy.maxMs);
  return Math.floor(random() * Math.min(policy.maxMs, policy.baseMs * 2 ** (n - 1)));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class PoolApi {
  private readonly base: string;
  private readonly options: ApiOptions;

  constructor(options: ApiOptions) {
    this.options = options;
    this.base = `${options.url.replace(/\/+$/, "")}/v1/pools/${encodeURIComponent(options.pool)}`;
  }

  /**
   * One call, retried while it may be. `signal` ends the retries (and the request) early, e.g. at
   * shutdown; then the last failure is thrown.
   */
  async call(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array; contentType: string },
    signal?: AbortSignal,
  ): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    let payload: BodyInit | undefined;
    if (body && "json" in body) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers["content-type"] = body.contentType;
      payload = body.bytes as unknown as BodyInit;
    }
    const { retry } = this.options;
    let last: unknown = null;
    for (let n = 1; n <= retry.attempts; n++) {
      let wait: string | null = null;
      try {
        const res = await this.options.fetch(`${this.base}${path}`, {
          method,
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
          ...(signal ? { signal } : {}),
        });
        if (!retryable(res.status)) {
          const text = await res.text();
          return { status: res.status, body: text ? safeJson(text) : null };
        }
        wait = res.headers.get("retry-after");
        last = new UnreachableError(`${method} ${path}: ${res.status} ${await res.text().catch(() => "")}`.trim());
      } catch (err) {
        last = err;
      }
      if (signal?.aborted || n === retry.attempts) break;
      await sleep(backoff(retry, n, wait), signal);
    }
    throw last instanceof Error ? last : new UnreachableError(`${method} ${path}: ${String(last)}`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
