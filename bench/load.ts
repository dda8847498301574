/**
 * An open-loop, constant-rate load: request i is due at start + i / rate, sent whatever the earlier
 * answers do. autocannon's `overallRate` sends each connection's share in a burst at the top of every
 * second, which measures how a system absorbs bursts, not a steady rate.
 */

export interface RateResult {
  sent: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Answers received by one second after the last request was due: a system that keeps up answers nearly all. */
  answeredInTime: number;
  /** Of 2xx answers, from the moment each was due (so a late send counts against the latency, not for it). */
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number };
}

/** Nearest-rank percentile of sorted values. */
const rank = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function constantRate(
  request: { url: string; headers: Record<string, string>; body: string },
  rate: number,
  seconds: number,
  timeoutMs = 30_000,
): Promise<RateResult> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const inTimeBy = start + seconds * 1000 + 1000;
  const latencies: number[] = [];
  const r = { ok: 0, non2xx: 0, errors: 0, answeredInTime: 0 };
  const one = async (due: number) => {
    try {
      const res = await fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      const now = performance.now();
      if (now <= inTimeBy) r.answeredInTime++;
      if (res.ok) {
        r.ok++;
        latencies.push(now - due);
      } else {
        r.non2xx++;
      }
    } catch {
      r.errors++;
    }
  };
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(one(due));
  }
  await Promise.all(pending);
  const sorted = latencies.sort((a, b) => a - b).map((x) => Math.round(x));
  return {
    sent: total,
    ...r,
    latencyMs: {
      p50: rank(sorted, 50),
      p90: rank(sorted, 90),
      p95: rank(sorted, 95),
      p99: rank(sorted, 99),
      max: sorted.at(-1) ?? NaN,
    },
  };
}
