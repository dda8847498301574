/**
 * The exports waiting on each collector in this isolate, bounded (docs/telemetry.md). A collector
 * that is down (or hangs) leaves every run that ended meanwhile with one outbox row for it; those
 * rows are retried with exponential backoff and are cheap, but they are not free (a row, an alarm
 * and, at each try, the run's spans rebuilt). Past `max` waiting exports for one collector the
 * oldest are doomed: their run drops its row at its next try and counts a `telemetry.dropped`
 * point. Kept in memory: an evicted isolate forgets its backlog, and then its exports only try
 * sooner (the age bound, TELEMETRY_GIVE_UP_MS, is the outbox row's own and survives).
 */

/** Backoff for the n-th failed try (1-based): 1 s, 2 s, 4 s, … up to `maxMs`. */
export const backoffMs = (tries: number, maxMs: number): number => Math.min(maxMs, 1_000 * 2 ** Math.max(0, tries - 1));

interface Waiting {
  since: number;
  tries: number;
  next: number;
}

export class ExportBacklog {
  /** Per collector, its waiting exports in the order they first failed (Map keeps insertion order). */
  private readonly byCollector = new Map<string, Map<string, Waiting>>();
  private readonly doomed = new Set<string>();

  constructor(private readonly maxBackoffMs = 300_000) {}

  /** Whether the export may try now (false: its backoff has not run out). */
  due(collector: string, exportKey: string, now: number): boolean {
    const w = this.byCollector.get(collector)?.get(exportKey);
    return !w || w.next <= now;
  }

  /** Whether this export was pushed out by newer ones: drop it. Forgets it. */
  takeDoomed(exportKey: string): boolean {
    return this.doomed.delete(exportKey);
  }

  /** A failed try: its next try's time, and the oldest exports now over `max` doomed. */
  failed(collector: string, exportKey: string, since: number, now: number, max: number): number {
    if (this.doomed.has(exportKey)) return 0; // already pushed out: its next try drops it
    const waiting = this.byCollector.get(collector) ?? new Map<string, Waiting>();
    this.byCollector.set(collector, waiting);
    const w = waiting.get(exportKey) ?? { since, tries: 0, next: now };
    w.tries++;
    w.next = now + backoffMs(w.tries, this.maxBackoffMs);
    waiting.set(exportKey, w);
    for (const key of waiting.keys()) {
      if (waiting.size <= max) break;
      waiting.delete(key);
      this.doomed.add(key);
    }
    // A doomed export whose run never comes back (its object deleted) must not pin memory.
    if (this.doomed.size > 100_000) this.doomed.clear();
    return w.tries;
  }

  /** Delivered or dropped: no longer waiting. */
  done(collector: string, exportKey: string): void {
    const waiting = this.byCollector.get(collector);
    waiting?.delete(exportKey);
    if (waiting?.size === 0) this.byCollector.delete(collector);
    this.doomed.delete(exportKey);
  }

  /** Exports waiting on a collector (for tests and logs). */
  size(collector: string): number {
    return this.byCollector.get(collector)?.size ?? 0;
  }
}
