/**
 * A token bucket: `perMinute` tokens refill evenly over a minute, up to a burst of `perMinute`.
 * Pure state plus a clock, so it is unit-tested without a runtime.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(perMinute: number, now: number) {
    this.tokens = perMinute;
    this.updatedAt = now;
  }

  /** Takes one token, or says how long until one is available. */
  take(perMinute: number, now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const ratePerMs = perMinute / 60_000;
    this.tokens = Math.min(perMinute, this.tokens + (now - this.updatedAt) * ratePerMs);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - this.tokens) / ratePerMs) };
  }

  /**
   * Takes up to `want` whole tokens at once (a caller that spends them over the next moments),
   * or says how long until one is available. Never more than the bucket holds.
   */
  takeUpTo(
    want: number,
    perMinute: number,
    now: number,
  ): { ok: true; granted: number } | { ok: false; retryAfterMs: number } {
    const first = this.take(perMinute, now);
    if (!first.ok) return first;
    const more = Math.max(0, Math.min(want - 1, Math.floor(this.tokens)));
    this.tokens -= more;
    return { ok: true, granted: 1 + more };
  }
}
