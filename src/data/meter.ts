/**
 * Meters one attempt in the data plane: AI tokens by model, heartbeats, and an estimate of the
 * handler's CPU time.
 *
 * The CPU figure is an estimate, and says so. Workers give code no CPU clock, and their clocks
 * only move across I/O, so a handler's own CPU is invisible to it while it computes. The estimate
 * is the larger of two lower bounds: (1) the handler's elapsed time outside the I/O the job SDK
 * awaits for it (R2 writes, model calls, heartbeats) — where the clock does move, it moved
 * because the handler computed or awaited something else; and (2) a floor for the work the SDK
 * itself does per attempt plus per byte it serialises and hashes. Cloudflare's billed CPU time
 * is in the Workers metrics; this figure exists so that usage can be priced per attempt.
 */
import type { ModelTokens, ReportedUsage } from "../analytics/usage";

/** The SDK's own work per attempt: parsing the message, validating input and output, reporting. */
export const BASE_CPU_MS = 0.25;
/** Serialising, hashing and compressing output and artifacts, at about 100 MB/s. */
export const CPU_MS_PER_KIB = 0.01;

export function estimateCpuMs(o: { elapsedMs: number; ioMs: number; bytes: number }): number {
  const measured = Math.max(0, o.elapsedMs - o.ioMs);
  const floor = BASE_CPU_MS + (o.bytes / 1024) * CPU_MS_PER_KIB;
  return Math.round(Math.max(measured, floor) * 1000) / 1000;
}

export class AttemptMeter {
  private readonly startedAt = Date.now();
  private ioMs = 0;
  private heartbeats = 0;
  private tokensIn = 0;
  private tokensOut = 0;
  private readonly models: ModelTokens = {};

  /** Runs an awaited I/O call, counting its time as I/O rather than compute. */
  async io<T>(call: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await call();
    } finally {
      this.ioMs += Date.now() - t0;
    }
  }

  heartbeat(): void {
    this.heartbeats += 1;
  }

  tokens(u: { tokensIn?: number; tokensOut?: number; model?: string }): void {
    const tin = Math.max(0, Math.round(u.tokensIn ?? 0));
    const tout = Math.max(0, Math.round(u.tokensOut ?? 0));
    this.tokensIn += tin;
    this.tokensOut += tout;
    if (u.model) {
      const m = (this.models[u.model] ??= { tokensIn: 0, tokensOut: 0 });
      m.tokensIn += tin;
      m.tokensOut += tout;
    }
  }

  /** The attempt's usage, as of now; `bytes` is what it produced (output and artifacts). */
  usage(bytes: number): ReportedUsage {
    return {
      tokensIn: this.tokensIn,
      tokensOut: this.tokensOut,
      ...(Object.keys(this.models).length ? { models: { ...this.models } } : {}),
      cpuMs: estimateCpuMs({ elapsedMs: Date.now() - this.startedAt, ioMs: this.ioMs, bytes }),
      ...(this.heartbeats ? { heartbeats: this.heartbeats } : {}),
    };
  }
}
