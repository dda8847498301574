import type { ModelTokens, ReportedUsage } from "../../schema/usage";
/**
 * Meters one attempt in the data plane: AI tokens by model, heartbeats, and an estimate of the
 * handler's CPU time.
 *
 * The CPU figure is a model, and says so. Workers give code no CPU clock, and their clocks only
 * move across I/O: a handler's elapsed time is its waiting (timers, fetches, storage), not its
 * computing, so measuring it would be dishonest in both directions. The estimate is a floor for
 * the work every attempt does (parse the message, validate input and output, report) plus a rate
 * per byte the attempt produced (serialising, hashing and compressing output and artifacts). The
 * constants are a judgement, not fitted: `npm run bench` measures the whole runtime's CPU per step,
 * most of it the platform's work around the handler, which the attempt, object-call and queue
 * prices cover. Cloudflare's billed CPU time is in the Workers metrics; this figure exists so that
 * usage can be priced per attempt.
 */

/** The SDK's own work per attempt: parsing the message, validating input and output, reporting. */
export const BASE_CPU_MS = 0.25;
/** Serialising, hashing and compressing output and artifacts, at about 100 MB/s. */
export const CPU_MS_PER_KIB = 0.01;

export function estimateCpuMs(bytes: number): number {
  return Math.round((BASE_CPU_MS + (Math.max(0, bytes) / 1024) * CPU_MS_PER_KIB) * 1000) / 1000;
}

export class AttemptMeter {
  /** `queued` is false for an attempt the run handed straight back to its worker (no queue message). */
  constructor(private readonly queued = true) {}

  private heartbeats = 0;
  private tokensIn = 0;
  private tokensOut = 0;
  private readonly models: ModelTokens = {};

  heartbeat(): void {
    this.heartbeats += 1;
  }

  tokens(u: { tokensIn?: number; tokensOut?: number; model?: string }): void {
    const tin = Math.max(0, Math.round(u.tokensIn ?? 0));
    const tout = Math.max(0, Math.round(u.tokensOut ?? 0));
    this.tokensIn += tin;
    this.tokensOut += tout;
    if (u.model) {
      const m = this.models[u.model] ?? { tokensIn: 0, tokensOut: 0 };
      this.models[u.model] = m;
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
      cpuMs: estimateCpuMs(bytes),
      ...(this.heartbeats ? { heartbeats: this.heartbeats } : {}),
      ...(this.queued ? {} : { queued: false }),
    };
  }
}
