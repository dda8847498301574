/** Diagnostic jobs of the `system` pool: for tests, chaos drills and benchmarks. */
import { z } from "zod";
import { AppError, NonRetryableError, RetryAfterError } from "../../errors";
import { defineJob } from "../job";
import { hashStep } from "../../lib/work";

const anyObject = z.record(z.string(), z.unknown());

export const echo = defineJob({
  type: "system.echo",
  pool: "system",
  description: "Returns its input as its output.",
  input: anyObject,
  output: anyObject,
  run: async ({ input }) => input,
});

/**
 * The benchmark's unit of work (bench/): hashes a 1 KiB string built from its upstream steps'
 * hashes (sorted by step id), or from `seed` at a root, so a chain cannot be short-cut.
 */
export const hash = defineJob({
  type: "system.hash",
  pool: "system",
  description:
    "Returns the SHA-256 of a 1 KiB string made from its upstream steps' `hash` outputs (or `seed` at a root).",
  input: z.object({ seed: z.string().max(1024).optional() }).strict(),
  output: z.object({ hash: z.string() }),
  run: async ({ input, upstream }) => {
    const previous = Object.keys(upstream)
      .sort()
      .map((id) => (upstream[id] as { hash?: unknown } | null)?.hash)
      .filter((h): h is string => typeof h === "string")
      .join("");
    return { hash: await hashStep(previous || input.seed || "") };
  },
});

/** How often a sleeping step heartbeats: its lease moves and it learns of a cancel. */
const SLEEP_HEARTBEAT_MS = 1_000;

export const sleep = defineJob({
  type: "system.sleep",
  pool: "system",
  description: "Waits `ms` milliseconds, heartbeating each second and stopping when cancelled, then returns.",
  input: z
    .object({
      ms: z
        .number()
        .int()
        .min(0)
        .max(15 * 60_000),
    })
    .strict(),
  output: z.object({ sleptMs: z.number() }),
  run: async ({ input, signal, heartbeat }) => {
    for (let left = input.ms; left > 0; left -= SLEEP_HEARTBEAT_MS) {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const timer = setTimeout(resolve, Math.min(left, SLEEP_HEARTBEAT_MS));
        const abort = () => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        signal.addEventListener("abort", abort, { once: true });
      });
      if (left > SLEEP_HEARTBEAT_MS) await heartbeat();
    }
    signal.throwIfAborted();
    return { sleptMs: input.ms };
  },
});

/** Thrown by system.crash: the consumer lets it escape, as if the invocation died before acking. */
export class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
}

export const crash = defineJob({
  type: "system.crash",
  pool: "system",
  description:
    "Chaos: the first `times` attempts kill their queue invocation before it acks (the message is redelivered, " +
    "the attempt's lease runs out and a new attempt starts); later attempts succeed.",
  input: z.object({ times: z.number().int().min(0).max(20).default(1) }).strict(),
  output: z.object({ attempt: z.number() }),
  run: async ({ input, attempt }) => {
    if (attempt <= input.times) throw new SimulatedCrash(`attempt ${attempt} crashes on purpose`);
    return { attempt };
  },
});

export const fail = defineJob({
  type: "system.fail",
  pool: "system",
  description:
    "The first `times` attempts throw a retryable error, later ones succeed; -1 always fails, non-retryably. " +
    "With `retryAfterMs` the failures ask for at least that long before the next attempt, as a rate limit would.",
  input: z
    .object({ times: z.number().int().min(-1).max(100), retryAfterMs: z.number().int().min(1).max(60_000).optional() })
    .strict(),
  output: z.object({ attempt: z.number() }),
  run: async ({ input, attempt }) => {
    if (input.times === -1) throw new NonRetryableError("system.fail", "system.fail always fails (times = -1)");
    if (attempt <= input.times) {
      const message = `attempt ${attempt} of the first ${input.times} fails on purpose`;
      if (input.retryAfterMs) throw new RetryAfterError("system.fail", message, input.retryAfterMs);
      throw new AppError("system.fail", message);
    }
    return { attempt };
  },
});
