/**
 * Contracts of circuit breakers: one per external dependency (an AI provider's endpoint and
 * model, or what a job type declares with `dependency`), its configuration and its view.
 */
import { z } from "@hono/zod-openapi";

/** The name of the breaker object that lists every breaker (a dependency may not be called so). */
export const BREAKER_REGISTRY = "~registry";

export const BREAKER_STATES = ["closed", "open", "half-open"] as const;
export type BreakerStateName = (typeof BREAKER_STATES)[number];

/** A dependency's name: what a job declares, or `ai:<provider>:<endpoint>:<model>`. */
export const DependencyName = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .openapi({ example: "github" });

export const BreakerConfig = z
  .object({
    failureThreshold: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .openapi({ description: "consecutive failures that open the breaker" }),
    failureRate: z
      .number()
      .gt(0)
      .max(1)
      .openapi({ description: "…or this share of failed calls in the window, once it holds minRequests" }),
    windowMs: z.number().int().min(1_000).max(3_600_000),
    minRequests: z.number().int().min(1).max(100_000),
    cooldownMs: z
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .openapi({ description: "how long it stays open before a probe" }),
    jitter: z.number().min(0).max(1).openapi({ description: "the cool-down is lengthened by up to this share" }),
    probes: z.number().int().min(1).max(100).openapi({ description: "calls let through while half-open" }),
  })
  .strict()
  .openapi("BreakerConfig");
export type BreakerConfig = z.infer<typeof BreakerConfig>;

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = {
  failureThreshold: 5,
  failureRate: 0.5,
  windowMs: 60_000,
  minRequests: 20,
  cooldownMs: 30_000,
  jitter: 0.2,
  probes: 1,
};

export const BreakerTransition = z
  .object({
    from: z.enum(BREAKER_STATES),
    to: z.enum(BREAKER_STATES),
    at: z.string().datetime(),
    reason: z.string(),
  })
  .openapi("BreakerTransition");
export type BreakerTransition = z.infer<typeof BreakerTransition>;

export const BreakerView = z
  .object({
    name: z.string(),
    state: z.enum(BREAKER_STATES),
    openUntil: z.string().datetime().nullable(),
    consecutiveFailures: z.number().int(),
    config: BreakerConfig,
    transitions: z.array(BreakerTransition).openapi({ description: "the latest first (at most 20)" }),
  })
  .openapi("Breaker");
export type BreakerView = z.infer<typeof BreakerView>;

export const BreakerList = z.object({ items: z.array(BreakerView) }).openapi("BreakerList");

/** What a breaker answers a consumer: its state, and whether this call may go out. */
/** What an isolate counted since its last report: calls that went out while it saw the breaker closed. */
export interface CallCounts {
  successes: number;
  failures: number;
  /** Failures at the end of the batch, after its last success (all of them when it had none). */
  trailingFailures: number;
}

export interface BreakerAnswer {
  state: BreakerStateName;
  openUntil: number | null;
  /** Failures reported since the last success reported. */
  consecutiveFailures: number;
  /** Calls a cold consumer lets out at once before it has seen a success (its failure threshold). */
  failureThreshold: number;
  /** Set by `admit`: may the call go out (a probe, when half-open), or how long to hold it. */
  allow?: boolean;
  retryAfterMs?: number;
  /** Set by `record`: the calls and the failures counted in the current window. */
  requests?: number;
  failures?: number;
}
