/**
 * The run row's `flow` column: its concurrency keys, those it holds, the one it waits for
 * (flow-gate.ts decides; the views show what it waits for).
 */
import type { WireRun } from "../../../schema/api";
import type { RunDebounce } from "../../../schema/debounce";
import type { ResolvedKey } from "../../../schema/flow";
import { json } from "../sqlite";
import type { RunRow } from "./rows";

/** What a run's row holds of its keys. */
export interface RunFlow {
  keys: ResolvedKey[];
  /** Keys whose slot the run holds. */
  granted: string[];
  /** The key it asked for and waits on (null: none). */
  waiting: string | null;
  /** Its tenant let it in: it starts as soon as it holds every key. */
  admitted: boolean;
  /** Its debounce (debounce-gate.ts), waited for before its keys; absent on runs without one. */
  debounce?: RunDebounce;
  /** The key whose object answered "wait" (its `run.waiting` event is logged once). */
  queuedOn?: string;
}

/** The row's `flow` column of a new run. */
export function flowColumn(keys: ResolvedKey[] | undefined, debounce?: RunDebounce): string | null {
  if (!keys?.length && !debounce) return null;
  return json.write({
    keys: keys ?? [],
    granted: [],
    waiting: null,
    admitted: false,
    ...(debounce ? { debounce } : {}),
  } satisfies RunFlow);
}

export function readFlow(run: RunRow): RunFlow | null {
  return run.flow ? json.read<RunFlow>(run.flow) : null;
}

/** The run's keys and what it waits for, for its view (nothing for a run without keys). */
export function flowView(run: RunRow): Pick<WireRun, "concurrency" | "waiting"> {
  const flow = readFlow(run);
  if (!flow) return {};
  const debounce = flow.debounce?.until != null && run.status === "queued" ? flow.debounce : null;
  const waiting = debounce
    ? { reason: "debounce" as const, key: debounce.key, until: new Date(debounce.until ?? 0).toISOString() }
    : flow.waiting && run.status === "queued"
      ? { reason: "concurrency.key" as const, key: flow.waiting }
      : null;
  return { ...(flow.keys.length ? { concurrency: flow.keys } : {}), ...(waiting ? { waiting } : {}) };
}

/** The run's keys for its retry's spec (none: nothing). */
export function flowKeys(run: RunRow): { concurrency?: ResolvedKey[] } {
  const flow = readFlow(run);
  return flow?.keys.length ? { concurrency: flow.keys } : {};
}
