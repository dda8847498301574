/**
 * A run's debounce (issue 28, docs/flow-control.md#debounce): runs of a tenant and project whose
 * `debounce.key` resolves alike and that are created within `periodMs` of each other collapse into
 * one run, which starts `periodMs` after the last creation with the last creation's input.
 */
import { z } from "@hono/zod-openapi";
import { FLOW_LIMITS, resolveKey, type KeyError } from "./flow";

export const DEBOUNCE_LIMITS = {
  /** Shorter windows would be a race between two requests rather than a debounce. */
  minPeriodMs: 100,
  /** A pending run is a queued run: a week is as long as one may sensibly wait to start. */
  maxPeriodMs: 7 * 24 * 60 * 60 * 1000,
} as const;

export const RunDebounceSpec = z
  .object({
    key: z.string().min(1).max(FLOW_LIMITS.keyChars).openapi({
      description: "a key, or a template naming the run's input: `{{input.repo}}`",
      example: "{{input.repo}}",
    }),
    periodMs: z
      .number()
      .int()
      .min(DEBOUNCE_LIMITS.minPeriodMs)
      .max(DEBOUNCE_LIMITS.maxPeriodMs)
      .openapi({ description: "the run starts this long after the last creation of its key (100 ms to 7 days)" }),
  })
  .strict()
  .openapi("RunDebounce", {
    description: "collapse runs of one key created within the period into the last one (docs/flow-control.md#debounce)",
  });
export type RunDebounceSpec = z.infer<typeof RunDebounceSpec>;

/** A debounce as the run keeps it: its key resolved, its period, and when it starts (null: started). */
export interface RunDebounce {
  key: string;
  periodMs: number;
  until: number | null;
}

/** The debounce's key resolved against the run's input, or the field error (`debounce.key`). */
export function resolveDebounce(
  spec: RunDebounceSpec,
  input: unknown,
): { ok: true; key: string } | { ok: false; error: KeyError } {
  const resolved = resolveKey(spec.key, input);
  return resolved.ok
    ? { ok: true, key: resolved.key }
    : { ok: false, error: { path: "debounce.key", message: resolved.message } };
}
