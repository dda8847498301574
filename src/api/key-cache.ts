/**
 * Key checks cached in the Worker's isolate, so a busy tenant's reads do not all queue on its one
 * object (docs/capacity.md). An entry holds what the tenant's object answered — the key's scopes and
 * name —
 * and rate tokens it granted in advance; each request spends one. The entry lives `ttlMs` at most:
 * a key revoked or a tenant suspended elsewhere is refused within that bound, and tokens unspent
 * by then are lost (the tenant is under-admitted by at most one lease per isolate, never over).
 * Leases grow while an isolate spends them all before they expire, and shrink when it does not.
 * Pure state plus a clock, so it is unit-tested without a runtime.
 */
import type { Scope } from "../../schema/tenants";

/** What the tenant's object said of a key: its scopes, and which key it is (for audit records). */
export interface KeyVerdict {
  scopes: Scope[];
  key: { id: string; name: string | null };
}

/** Tokens an isolate may hold for one key: enough to spare the object most calls under load. */
const MAX_LEASE = 32;

interface Entry {
  tenantId: string;
  verdict: KeyVerdict;
  tokens: number;
  expiresAt: number;
  /** The lease to ask for on the next refill. */
  nextLease: number;
}

export class KeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** What the object said of the key, spending one of its tokens; null when the object must be asked. */
  take(key: string, now: number): KeyVerdict | null {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= now || entry.tokens < 1) return null;
    entry.tokens -= 1;
    return entry.verdict;
  }

  /** How many tokens to ask the object for on this key's next call. */
  lease(key: string, now: number): number {
    if (this.ttlMs <= 0) return 1;
    const entry = this.entries.get(key);
    if (!entry) return 1;
    // Spent before it expired: demand outruns the lease, so ask for more; else for what it used.
    return entry.expiresAt > now ? Math.min(MAX_LEASE, entry.nextLease * 2) : Math.max(1, entry.nextLease / 2);
  }

  /** Records the object's answer; one of the `granted` tokens is the current request's. */
  put(key: string, tenantId: string, verdict: KeyVerdict, granted: number, now: number): void {
    if (this.ttlMs <= 0) return;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.delete(key); // re-inserted last: the newest entry is evicted last
    this.entries.set(key, { tenantId, verdict, tokens: granted - 1, expiresAt: now + this.ttlMs, nextLease: granted });
  }

  /** Forgets a tenant's entries at once (its keys or status changed through this isolate). */
  forgetTenant(tenantId: string): void {
    for (const [key, entry] of this.entries) if (entry.tenantId === tenantId) this.entries.delete(key);
  }
}
