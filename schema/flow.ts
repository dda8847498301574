/**
 * Flow-control keys inside a tenant (issue 28, docs/flow-control.md): a run's concurrency keys
 * (`concurrency: [{ key: "{{input.repo}}", limit: 1 }]`). A key is a
 * template resolved once, at creation, against the run's `input`; the resolved key names one
 * FlowObject per tenant and key (src/control/flow/object.ts), which holds its slots and its queue.
 */
import { z } from "@hono/zod-openapi";
import { FLOW_WAIT_REASONS } from "./vocabulary";

export const FLOW_LIMITS = {
  /** Concurrency keys on one run. */
  keysPerRun: 3,
  /** A key's limit: runs of the key running at once. */
  maxLimit: 1000,
  /** A key, as written and as resolved. */
  keyChars: 256,
} as const;

/** A key as written: a literal, or a template naming the input of its `owner` (a run or a step). */
const keyTemplate = (owner: KeyOwner, example: string) =>
  z
    .string()
    .min(1)
    .max(FLOW_LIMITS.keyChars)
    .openapi({ description: `a key, or a template naming the ${owner}'s input: \`${example}\``, example });

/** How many of a key's runs or steps may run at once. */
const concurrencyLimit = (description: string) =>
  z.number().int().min(1).max(FLOW_LIMITS.maxLimit).openapi({ description });

export const ConcurrencyKey = z
  .object({
    key: keyTemplate("run", "{{input.repo}}"),
    limit: concurrencyLimit("runs of this key running at once (the latest run's limit is the key's)"),
  })
  .strict()
  .openapi("ConcurrencyKey");
export type ConcurrencyKey = z.infer<typeof ConcurrencyKey>;

export const RunConcurrency = z
  .array(ConcurrencyKey)
  .min(1)
  .max(FLOW_LIMITS.keysPerRun)
  .openapi({ description: "keys the run must hold a slot of before it starts (docs/flow-control.md)" });

/** Why a `queued` run that its tenant let in has not started yet, and the key it waits for. */
export const RunWaiting = z
  .object({
    reason: z.enum(FLOW_WAIT_REASONS),
    key: z.string(),
    until: z
      .string()
      .datetime()
      .optional()
      .openapi({ description: "a debounce: when the run starts, unless a later creation pushes it" }),
  })
  .openapi("RunWaiting", { description: "a queued run waiting for a flow-control key (docs/flow-control.md)" });
export type RunWaiting = z.infer<typeof RunWaiting>;

/** A key resolved at creation; a run's keys are sorted (acquired in that order: two runs never wait on each other). */
export interface ResolvedKey {
  key: string;
  limit: number;
}

export type KeyResolution = { ok: true; key: string } | { ok: false; message: string };

/** Whose input a key's template names: a run's (run keys, debounce) or a step's (step keys). */
export type KeyOwner = "run" | "step";

const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

/**
 * Replaces each `{{input.a.b}}` with the value at that path of the run's input (a string, number
 * or boolean). A path that is missing, or names an object, an array or null, is refused: a key
 * that silently became "undefined" would put unrelated runs in one queue.
 */
export function resolveKey(template: string, input: unknown, owner: KeyOwner = "run"): KeyResolution {
  let failure: string | null = null;
  const key = template.replace(PLACEHOLDER, (_whole, path: string) => {
    const parts = path.split(".");
    if (parts[0] !== "input" || parts.length < 2 || parts.some((p) => p === "")) {
      failure ??= `'{{${path}}}' is not a template: name a path of the ${owner}'s input, as {{input.repo}}`;
      return "";
    }
    let value: unknown = input;
    for (const part of parts.slice(1))
      value =
        value !== null && typeof value === "object" && !Array.isArray(value)
          ? (value as Record<string, unknown>)[part]
          : undefined;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
    failure ??= `the ${owner}'s ${path} is ${value === undefined ? "missing" : "not a string, number or boolean"}`;
    return "";
  });
  if (failure !== null) return { ok: false, message: failure };
  if (key.length === 0 || key.length > FLOW_LIMITS.keyChars)
    return { ok: false, message: `the resolved key must have 1 to ${FLOW_LIMITS.keyChars} characters` };
  return { ok: true, key };
}

/** A field error of a key's resolution: the request's path and why. */
export interface KeyError {
  path: string;
  message: string;
}

/**
 * A run's concurrency keys resolved, sorted and merged (a key named twice keeps the lower limit),
 * or the first key that does not resolve.
 */
export function resolveConcurrency(
  keys: readonly ConcurrencyKey[] | undefined,
  input: unknown,
): { ok: true; keys: ResolvedKey[] } | { ok: false; error: KeyError } {
  const merged = new Map<string, number>();
  for (const [i, k] of (keys ?? []).entries()) {
    const resolved = resolveKey(k.key, input);
    if (!resolved.ok) return { ok: false, error: { path: `concurrency.${i}.key`, message: resolved.message } };
    merged.set(resolved.key, Math.min(k.limit, merged.get(resolved.key) ?? k.limit));
  }
  const sorted = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { ok: true, keys: sorted.map(([key, limit]) => ({ key, limit })) };
}

// ── Step keys (docs/flow-control.md, "Step keys") ───────────────────────────────────────────

export const STEP_FLOW_LIMITS = {
  /** A rate key's attempt starts per period. */
  maxRate: 1000,
  /** A rate key's period, in ms: from a tenth of a second to an hour. */
  minPeriodMs: 100,
  maxPeriodMs: 3_600_000,
} as const;

export const StepConcurrency = z
  .object({
    key: keyTemplate("step", "{{input.organization}}"),
    limit: concurrencyLimit("steps of this key running at once (a step keeps its slot across its retries)"),
  })
  .strict()
  .openapi("StepConcurrency");
export type StepConcurrency = z.infer<typeof StepConcurrency>;

export const StepRateLimit = z
  .object({
    key: keyTemplate("step", "{{input.organization}}"),
    limit: z
      .number()
      .int()
      .min(1)
      .max(STEP_FLOW_LIMITS.maxRate)
      .openapi({ description: "attempt starts of this key per period (every attempt takes one)" }),
    periodMs: z.number().int().min(STEP_FLOW_LIMITS.minPeriodMs).max(STEP_FLOW_LIMITS.maxPeriodMs),
  })
  .strict()
  .openapi("StepRateLimit");
export type StepRateLimit = z.infer<typeof StepRateLimit>;

/** A step's keys as written on the step or its job type (templates over the step's input). */
export interface StepFlowSpec {
  concurrency?: StepConcurrency;
  rateLimit?: StepRateLimit;
}

/** A step's keys resolved at creation (or at its spawn). */
export interface ResolvedStepFlow {
  concurrency?: ResolvedKey;
  rateLimit?: ResolvedKey & { periodMs: number };
}

/** Why a step that is ready has not been dispatched yet, and the key it waits for. */
export const StepWaiting = z
  .object({ reason: z.enum(FLOW_WAIT_REASONS), key: z.string() })
  .openapi("StepWaiting", { description: "a step waiting for a flow-control key (docs/flow-control.md)" });
export type StepWaiting = z.infer<typeof StepWaiting>;

/**
 * A step's keys resolved against its input: its own over its job type's (`defaults`). Null when
 * it has none (its row then holds nothing of them); an error names the field that does not resolve.
 */
export function resolveStepFlow(
  own: StepFlowSpec,
  defaults: StepFlowSpec | undefined,
  input: unknown,
): { ok: true; flow: ResolvedStepFlow | null } | { ok: false; error: KeyError } {
  const concurrency = own.concurrency ?? defaults?.concurrency;
  const rate = own.rateLimit ?? defaults?.rateLimit;
  const flow: ResolvedStepFlow = {};
  if (concurrency) {
    const r = resolveKey(concurrency.key, input, "step");
    if (!r.ok) return { ok: false, error: { path: "concurrency.key", message: r.message } };
    flow.concurrency = { key: r.key, limit: concurrency.limit };
  }
  if (rate) {
    const r = resolveKey(rate.key, input, "step");
    if (!r.ok) return { ok: false, error: { path: "rateLimit.key", message: r.message } };
    flow.rateLimit = { key: r.key, limit: rate.limit, periodMs: rate.periodMs };
  }
  return { ok: true, flow: flow.concurrency || flow.rateLimit ? flow : null };
}
