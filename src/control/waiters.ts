/**
 * Long polls inside a Durable Object: a request that found nothing waits until the object changes
 * or its time is up. Only in memory: an evicted object's waiters end with their requests.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  /** Resolves at the next `wakeAll()`, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiting.add(wake);
    });
  }

  /** Something changed: every waiter looks again. */
  wakeAll(): void {
    for (const wake of this.waiting) wake();
  }
}
