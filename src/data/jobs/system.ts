/** Diagnostic jobs of the `system` pool: for tests, chaos drills and benchmarks. */
import { z } from "zod";
import { NonRetryableError, AppError } from "../../errors";
import { defineJob } from "../job";

const anyObject = z.record(z.string(), z.unknown());

export const echo = defineJob({
  type: "system.echo",
  pool: "system",
  description: "Returns its input as its output.",
  input: anyObject,
  output: anyObject,
  run: async ({ input }) => input,
});

export const sleep = defineJob({
  type: "system.sleep",
  pool: "system",
  description: "Waits `ms` milliseconds (honouring cancellation), then returns.",
  input: z.object({ ms: z.number().int().min(0).max(15 * 60_000) }).strict(),
  output: z.object({ sleptMs: z.number() }),
  run: async ({ input, signal }) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, input.ms);
      signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
    });
    return { sleptMs: input.ms };
  },
});

export const fail = defineJob({
  type: "system.fail",
  pool: "system",
  description: "The first `times` attempts throw a retryable error, later ones succeed; -1 always fails, non-retryably.",
  input: z.object({ times: z.number().int().min(-1).max(100) }).strict(),
  output: z.object({ attempt: z.number() }),
  run: async ({ input, attempt }) => {
    if (input.times === -1) throw new NonRetryableError("system.fail", "system.fail always fails (times = -1)");
    if (attempt <= input.times) {
      throw new AppError("system.fail", `attempt ${attempt} of the first ${input.times} fails on purpose`);
    }
    return { attempt };
  },
});
