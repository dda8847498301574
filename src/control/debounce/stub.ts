/**
 * A debounce key's object as its callers use it: one per tenant, project and resolved key
 * (docs/flow-control.md#debounce). Declared here rather than picked from the class, like the
 * concurrency keys' stub: a run's outbox calls it.
 */
import type { Env } from "../../env";

/** What a request of the key is told: the pending run it joins, or a new one it must create. */
export type DebounceClaim = { runId: string; fresh: boolean; replayed: boolean } | { conflict: true };

export interface DebounceStub {
  /**
   * The key's pending run, or a new run id recorded as pending (`fresh`: the caller creates it).
   * With an Idempotency-Key, a replay names the run its first request joined.
   */
  claim(idempotency?: { key: string; bodyHash: string }): Promise<DebounceClaim>;
  /** The run started or ended: it is no longer the key's pending run (a later request opens a new one). */
  settle(runId: string): Promise<void>;
}

export function debounceName(tenantId: string, project: string, key: string): string {
  return `${tenantId}\n${project}\n${key}`;
}

export function debounceStub(env: Env, tenantId: string, project: string, key: string): DebounceStub {
  return env.DEBOUNCE.getByName(debounceName(tenantId, project, key)) as unknown as DebounceStub;
}
