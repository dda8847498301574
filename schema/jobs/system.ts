/** Diagnostic jobs of the `system` pool: for tests, chaos drills and benchmarks (off in production). */
import { z } from "zod";
import { declareJob } from "./declare";

const anyObject = z.record(z.string(), z.unknown());

export const echo = declareJob({
  type: "system.echo",
  pool: "system",
  description: "Returns its input as its output.",
  input: anyObject,
  output: anyObject,
});

export const hash = declareJob({
  type: "system.hash",
  pool: "system",
  description:
    "Returns the SHA-256 of a 1 KiB string made from its upstream steps' `hash` outputs (or `seed` at a root).",
  input: z.object({ seed: z.string().max(1024).optional() }).strict(),
  output: z.object({ hash: z.string() }),
});

export const sleep = declareJob({
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
});

export const crash = declareJob({
  type: "system.crash",
  pool: "system",
  description:
    "Chaos: the first `times` attempts kill their queue invocation before it acks (the message is redelivered, " +
    "the attempt's lease runs out and a new attempt starts); later attempts succeed.",
  input: z.object({ times: z.number().int().min(0).max(20).default(1) }).strict(),
  output: z.object({ attempt: z.number() }),
});

export const fail = declareJob({
  type: "system.fail",
  pool: "system",
  description:
    "The first `times` attempts throw a retryable error, later ones succeed; -1 always fails, non-retryably. " +
    "With `retryAfterMs` the failures ask for at least that long before the next attempt, as a rate limit would.",
  input: z
    .object({ times: z.number().int().min(-1).max(100), retryAfterMs: z.number().int().min(1).max(60_000).optional() })
    .strict(),
  output: z.object({ attempt: z.number() }),
});

export const secrets = declareJob({
  type: "system.secrets",
  pool: "system",
  description:
    "Secret-scanning fixture: writes planted (fake) secrets of each rule family, as one zip (`secrets.zip`) " +
    "or as one plain artifact per family (`planted-<n>.txt`).",
  input: z.object({ mode: z.enum(["zip", "plain"]).default("zip") }).strict(),
  output: z.object({ artifacts: z.number() }),
});

export const upstream = declareJob({
  type: "system.upstream",
  pool: "system",
  description:
    "Calls a simulated external system: fails retryably (as a 503 would) until `failUntil` (ms since the epoch), " +
    "then succeeds. It declares the dependency 'diagnostic-upstream', whose circuit breaker its failures trip.",
  input: z.object({ failUntil: z.number().int().min(0) }).strict(),
  output: z.object({ attempt: z.number() }),
  dependency: "diagnostic-upstream",
});
