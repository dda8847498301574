/**
 * A run's side of its debounce (docs/flow-control.md#debounce). The run is created at its key's
 * first request, `queued` and waiting until `until`; each later request of the window hands it its
 * own graph and labels and pushes `until` (`take`). Both the take and the timer's firing are
 * decisions of this run's object, one at a time, so a request learns exactly whether it was taken
 * or came too late (the run started: the caller opens a new pending run). When the wait ends (it
 * starts) or the run ends first (cancelled), an outbox row tells the key's object to forget it as
 * the key's pending run. Its concurrency keys, if any, are asked for only after the wait.
 */
import type { FlowMessage } from "../../../schema/messages";
import type { ResolvedStep } from "../../../schema/run";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { json } from "../sqlite";
import { readFlow, type RunFlow } from "./flow-row";
import { labelsColumn } from "./labels";
import type { RunRow } from "./rows";
import { insertStep } from "./steps";
import type { RunStore } from "./store";

/** A later request of the window, for the pending run. */
export interface DebounceTake {
  steps: ResolvedStep[];
  tags?: string[];
  metadata?: Record<string, string>;
  /** When the run starts now: the request's time plus the period. */
  until: number;
}

/** taken: the run will start with the request's graph; started/ended: too late, the caller opens a new run. */
export type TakeResult = "taken" | "started" | "ended" | "missing";

export class DebounceGate {
  constructor(
    private readonly store: RunStore,
    private readonly send: (message: FlowMessage, now: number) => void,
    private readonly waitingEvent: (now: number, data: Record<string, unknown>) => void,
  ) {}

  /**
   * The tenant let the run in: true while its debounce still holds it (its timer set, a
   * `run.waiting` event logged once), false once the wait is over (the key's object then told).
   */
  hold(run: RunRow, flow: RunFlow, now: number): boolean {
    const debounce = flow.debounce;
    if (debounce?.until == null) return false;
    if (debounce.until <= now) {
      this.end(run, flow, now);
      return false;
    }
    if (flow.admitted && this.store.timerDueAt("debounce", "run") !== null) return true;
    this.store.setRunFlow(json.write({ ...flow, admitted: true } satisfies RunFlow));
    this.store.setTimer("debounce", "run", debounce.until);
    this.waitingEvent(now, { reason: "debounce", key: debounce.key, until: new Date(debounce.until).toISOString() });
    return true;
  }

  /** The debounce timer fired: true when the wait is over for a run its tenant let in (the caller admits it). */
  fired(now: number): boolean {
    const run = this.store.existingRun();
    const flow = readFlow(run);
    const until = flow?.debounce?.until;
    if (!flow || until == null || run.status !== "queued") return false;
    if (until > now) {
      this.store.setTimer("debounce", "run", until); // a take pushed it after this firing was due
      return false;
    }
    this.end(run, flow, now);
    return flow.admitted;
  }

  /** A later request of the window: its graph and labels replace the run's, and the wait is pushed. */
  take(take: DebounceTake): TakeResult {
    const run = this.store.run();
    if (!run) return "missing";
    if (TERMINAL_RUN_STATUSES.has(run.status)) return "ended";
    const flow = readFlow(run);
    const debounce = flow?.debounce;
    if (!flow || debounce?.until == null || run.status !== "queued") return "started";
    // Not started: no step was dispatched, so the graph is only rows, replaced whole.
    this.store.removeSteps();
    take.steps.forEach((s, position) => {
      insertStep(this.store, s, position);
    });
    this.store.setRunLabels(labelsColumn(take));
    const until = Math.max(debounce.until, take.until);
    this.store.setRunFlow(json.write({ ...flow, debounce: { ...debounce, until } } satisfies RunFlow));
    if (this.store.timerDueAt("debounce", "run") !== null) this.store.setTimer("debounce", "run", until);
    return "taken";
  }

  /** The run ended while its debounce held it (cancelled): its key's object forgets it. */
  release(run: RunRow, now: number): void {
    const debounce = readFlow(run)?.debounce;
    if (debounce?.until != null) this.send({ op: "debounce.settle", key: debounce.key, project: run.project }, now);
  }

  private end(run: RunRow, flow: RunFlow, now: number): void {
    const debounce = flow.debounce;
    if (!debounce) return;
    this.store.clearTimer("debounce", "run");
    this.store.setRunFlow(json.write({ ...flow, debounce: { ...debounce, until: null } } satisfies RunFlow));
    this.send({ op: "debounce.settle", key: debounce.key, project: run.project }, now);
  }
}
