/**
 * A run's side of its concurrency keys (docs/flow-control.md). Once its tenant lets it in, a run
 * with keys acquires them one at a time, in the sorted order they were resolved in (two runs
 * then never hold one key each while waiting for the other's), and starts when it holds all.
 * Waiting, it stays `queued` with a `run.waiting` event naming the key: no step is dispatched,
 * so it holds no worker, and it gives its tenant slot back (`queued`, a `flow: "waiting"` sync)
 * until it holds every key (`flow: "ready"`), so a busy key never idles the tenant's slots. Each acquire and release is an outbox row written in the transaction
 * that decided it (sent to the key's FlowObject after commit, again until it is answered), and
 * the key's object grants by a durable record and tells the run (`granted`), so neither a kill
 * of the run nor of the key's object loses or doubles a slot. A run without keys reads its row's
 * `flow` (null) and does nothing more.
 */
import type { FlowMessage } from "../../../schema/messages";
import { TERMINAL_RUN_STATUSES } from "../../../schema/vocabulary";
import { json } from "../sqlite";
import { DebounceGate } from "./debounce-gate";
import type { ResolvedKey } from "../../../schema/flow";
import { readFlow, type RunFlow } from "./flow-row";
import type { RunRow } from "./rows";
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
    this.ask({ ...flow, admitted: true }, next, run.priority, now);
    return true;
  }

  /**
   * The key's object answered an acquire with "wait": the run gives its tenant slot back while it
   * waits (true: the caller tells its tenant, `flow: "waiting"`), so a busy key never holds slots
   * the tenant's other runs could use. Logged as `run.waiting` only now, when it really waits.
   */
  queued(key: string, now: number): boolean {
    const run = this.store.existingRun();
    const flow = readFlow(run);
    if (!flow || run.status !== "queued" || flow.waiting !== key || flow.granted.includes(key)) return false;
    // Logged once per key however often a re-sent acquire is answered (nothing to write then).
    if (!flow.admitted && flow.queuedOn === key) return false;
    if (flow.queuedOn !== key)
      this.waitingEvent(now, { reason: "concurrency.key", key, limit: flow.keys.find((k) => k.key === key)?.limit });
    this.store.setRunFlow(json.write({ ...flow, admitted: false, queuedOn: key } satisfies RunFlow));
    return flow.admitted;
  }

  /**
   * The key's object granted `key`: recorded. "start": the run was let in by its tenant and should
   * try to start (the caller admits it, which asks for the next key or starts it); "ready": it gave
   * its tenant slot back while it waited and now holds every key (the caller asks its tenant for a
   * slot again); "none": nothing to do, or the next key was asked for here.
   */
  granted(key: string, now: number): "start" | "ready" | "none" {
    const run = this.store.existingRun();
    const flow = readFlow(run);
    if (!flow || TERMINAL_RUN_STATUSES.has(run.status) || flow.granted.includes(key)) return "none";
    if (!flow.keys.some((k) => k.key === key)) return "none";
    const granted = [...flow.granted, key];
    const next = { ...flow, granted, waiting: flow.waiting === key ? null : flow.waiting } satisfies RunFlow;
    if (run.status !== "queued") {
      this.store.setRunFlow(json.write(next));
      return "none";
    }
    if (flow.admitted) {
      this.store.setRunFlow(json.write(next));
      return "start";
    }
    // Without a tenant slot: the next key is asked for at once (sorted order still), and the slot
    // is asked for only once every key is held.
    const more = flow.keys.find((k) => !granted.includes(k.key));
    if (!more) {
      this.store.setRunFlow(json.write(next));
      return "ready";
    }
    this.ask(next, more, run.priority, now);
    return "none";
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

  /** Records that the run waits for `key` and sends its acquire (once). */
  private ask(flow: RunFlow, key: ResolvedKey, priority: RunRow["priority"], now: number): void {
    this.store.setRunFlow(json.write({ ...flow, waiting: key.key } satisfies RunFlow));
    this.send({ op: "acquire", key: key.key, limit: key.limit, priority }, now);
  }

  private send(message: FlowMessage, now: number): void {
    this.store.enqueue("flow", null, message);
    this.store.setTimer("outbox", "flush", now + this.outboxRetryMs);
  }
}
