/**
 * A Durable Object's one alarm, kept at the earliest time anything in it is due. It remembers what
 * it last set, so a change that leaves the schedule as it was costs no storage call.
 */
export class Alarm {
  private at: number | null = null;
  /** The last sync asked for; the next applies after it. */
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the alarm as stored; in the constructor's blockConcurrencyWhile, before any request. */
  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /** When the alarm is set for, as last set or read; null when none is. */
  get dueAt(): number | null {
    return this.at;
  }

  /** Called first in `alarm()`: a fired alarm is no longer set. */
  fired(): void {
    this.at = null;
  }

  /**
   * Sets the alarm to `next`, or deletes it for null; nothing when it is already so. Calls apply in
   * order, each compared with what the one before it set: two callers at once (a Run object's two
   * outbox lanes) cannot leave the alarm at the older value because the newer one was compared with
   * an `at` the older had not written yet.
   */
  sync(next: number | null): Promise<void> {
    const apply = async () => {
      if (next === this.at) return;
      if (next === null) await this.storage.deleteAlarm();
      else await this.storage.setAlarm(next);
      this.at = next;
    };
    const done = this.last.then(apply, apply);
    this.last = done.catch(() => undefined);
    return done;
  }
}
