/**
 * A run's side of its concurrency keys (docs/flow-control.md). Once its tenant lets it in, a run
 * with keys acquires them one at a time, in the sorted order they were resolved in (two runs
 * then never hold one key each while waiting for the other's), and starts when it holds all.
 * Waiting, it stays `queued` with a `run.waiting` event naming the key: no step is dispatched,
 * so it holds no worker. Each acquire and release is an outbox row written in the transaction
 * that decided it (sent to the key's FlowObject after commit, again until it is answered), and
 * the key's object grants by a durable record and tells the run (`granted`), so neither a kill
 * of the run nor of the key's object loses or doubles a slot. A run without keys reads its row's
 * `flow` (null) and does nothing more.
 */
import type { FlowMessage } from "../../../schema/messages";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { json } from "../sqlite";
import { DebounceGate } from "./debounce-gate";
import { readFlow, type RunFlow } from "./flow-row";
import type { RunStore } from "./store";

export class FlowGate {
  /** A debounced run's wait, before its keys (debounce-gate.ts). */
  readonly debounce: DebounceGate;

  constructor(
    private readonly store: RunStore,
    private readonly outboxRetryMs: number,
    /** Logs `run.waiting` (a webhook event too) through the engine. */
    private readonly waitingEvent: (now: number, data: Record<string, unknown>) => void,
  ) {
    this.debounce = new DebounceGate(store, (m, now) => this.send(m, now), waitingEvent);
  }

  /**
   * The tenant let the queued run in: true while it must still wait for a key (the next one not
   * held is asked for, once), false when it holds them all (or has none) and may start.
   */
  hold(now: number): boolean {
    const run = this.store.existingRun();
    let flow = readFlow(run);
    if (!flow) return false;
    if (flow.debounce?.until != null) {
      if (this.debounce.hold(run, flow, now)) return true;
      flow = readFlow(this.store.existingRun()) ?? flow;
    }
    const next = flow.keys.find((k) => !flow.granted.includes(k.key));
    if (!next) return false;
    if (flow.waiting === next.key && flow.admitted) return true;
    this.store.setRunFlow(json.write({ ...flow, waiting: next.key, admitted: true } satisfies RunFlow));
    this.waitingEvent(now, { reason: "concurrency.key", key: next.key, limit: next.limit });
    this.send({ op: "acquire", key: next.key, limit: next.limit, priority: run.priority }, now);
    return true;
  }

  /**
   * The key's object granted `key`: recorded; true when the run was let in by its tenant and
   * should try to start (the caller admits it, which asks for the next key or starts it).
   */
  granted(key: string): boolean {
    const run = this.store.existingRun();
    const flow = readFlow(run);
    if (!flow || TERMINAL_RUN_STATUSES.has(run.status) || flow.granted.includes(key)) return false;
    if (!flow.keys.some((k) => k.key === key)) return false;
    const granted = [...flow.granted, key];
    this.store.setRunFlow(
      json.write({ ...flow, granted, waiting: flow.waiting === key ? null : flow.waiting } satisfies RunFlow),
    );
    return flow.admitted && run.status === "queued";
  }

  /** Whether the run holds or waits for `key` (the key's object asks, to reclaim a slot of a run gone). */
  holds(key: string): boolean {
    const run = this.store.run();
    const flow = run ? readFlow(run) : null;
    if (!run || !flow || TERMINAL_RUN_STATUSES.has(run.status)) return false;
    return flow.granted.includes(key) || flow.waiting === key;
  }

  /** The run ended: every key it asked for is released (a slot it holds, or its place in a queue). */
  release(now: number): void {
    const run = this.store.existingRun();
    const flow = readFlow(run);
    if (!flow) return;
    this.debounce.release(run, now);
    const asked = flow.keys.filter((k) => flow.granted.includes(k.key) || flow.waiting === k.key);
    for (const k of asked) this.send({ op: "release", key: k.key }, now);
  }

  private send(message: FlowMessage, now: number): void {
    this.store.enqueue("flow", null, message);
    this.store.setTimer("outbox", "flush", now + this.outboxRetryMs);
  }
}
