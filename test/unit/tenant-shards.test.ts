/** The pure parts of tenant sharding (src/control/tenant/shards.ts): names, shares, the quota re-deal, list merging. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../schema/api";
import { TENANT_ID } from "../../schema/ids";
import {
  concurrencyShare,
  mergeRunPages,
  owningShard,
  parseShardName,
  quotaCounts,
  share,
  shardName,
  type RunCursor,
} from "../../src/control/tenant/shards";

describe("shard names", () => {
  it("round-trip, shard 0 is the tenant's own name, and no shard's name is a tenant id", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,39}$/), fc.integer({ min: 0, max: 63 }), (tenant, k) => {
        const name = shardName(tenant, k);
        expect(parseShardName(name)).toEqual({ tenantId: tenant, shard: k });
        if (k === 0) expect(name).toBe(tenant);
        else expect(TENANT_ID.test(name)).toBe(false);
      }),
    );
  });
});

describe("shares", () => {
  it("add up to the total exactly; slots are at least one a shard", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 64 }), (total, n) => {
        const parts = Array.from({ length: n }, (_, k) => share(total, n, k));
        expect(parts.reduce((a, b) => a + b, 0)).toBe(total);
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
        const slots = Array.from({ length: n }, (_, k) => concurrencyShare(total, n, k));
        expect(slots.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Math.max(total, n));
        expect(Math.min(...slots)).toBeGreaterThanOrEqual(1);
      }),
      // (0, 1) failed about one seed in 20 (CI: FLAKY): an unsharded tenant's slots skipped the
      // floor of one. It is checked on every run now, not only when the seed draws it.
      { examples: [[0, 1]] },
    );
  });

  it("an Idempotency-Key has one owner; a key-less run stays on the shard picked", () => {
    expect(owningShard("k", 1, 0)).toBe(0);
    expect(owningShard(undefined, 4, 3)).toBe(3);
    expect(owningShard(undefined, 4, 6)).toBe(2);
    const owner = owningShard("build-1234", 8, 0);
    expect([0, 5, 7].map((p) => owningShard("build-1234", 8, p))).toEqual([owner, owner, owner]);
  });
});

describe("quotaCounts: re-dealing the month's quota over a new shard count", () => {
  it("leaves each new shard its share of what is left, and the counts still add up to what was used", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 16 }),
        (monthly, n, counted) => {
          // Home asks every shard up to the new count (it raised its span first): fresh ones count 0.
          const used = [...counted, ...new Array<number>(Math.max(0, n - counted.length)).fill(0)];
          const counts = quotaCounts(monthly, n, used);
          const total = used.reduce((a, b) => a + b, 0);
          const left = Math.max(0, monthly - total);
          expect(counts.reduce((a, b) => a + b, 0)).toBe(Math.min(total, monthly) + Math.max(0, total - monthly));
          counts.forEach((c, k) => {
            if (k < n)
              expect(share(monthly, n, k) - c).toBe(
                k === 0 ? share(left, n, 0) - Math.max(0, total - monthly) : share(left, n, k),
              );
            else expect(c).toBe(0);
          });
        },
      ),
    );
  });
});

describe("mergeRunPages", () => {
  const run = (createdAt: number, id: string): RunSummary => ({
    id,
    project: "p",
    blueprint: null,
    tags: [],
    metadata: {},
    requestedBy: null,
    archivedAt: null,
    status: "queued",
    createdAt: new Date(createdAt).toISOString(),
    updatedAt: new Date(createdAt).toISOString(),
  });
  const after = (r: RunSummary, c: RunCursor | null) => {
    if (!c) return true;
    const at = Date.parse(r.createdAt);
    return at < c.createdAt || (at === c.createdAt && r.id < c.runId);
  };
  /** One shard's page as RunBook.list makes it: newest first after the cursor, `limit` at most. */
  const page = (rows: RunSummary[], cursor: RunCursor | null, limit: number) => {
    const sorted = rows
      .filter((r) => after(r, cursor))
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1));
    const shown = sorted.slice(0, limit);
    const last = shown[shown.length - 1];
    return {
      items: shown,
      next: sorted.length > limit && last ? { createdAt: Date.parse(last.createdAt), runId: last.id } : null,
    };
  };

  it("pages through every shard's runs exactly once, newest first", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3 })), { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        (specs, limit) => {
          const shards: RunSummary[][] = [[], [], [], []];
          for (const [i, [at, shard]] of specs.entries())
            shards[shard]?.push(run(1_000 + at, `run_${String(i).padStart(3, "0")}`));
          const seen: string[] = [];
          let cursor: RunCursor | null = null;
          for (let guard = 0; guard < 100; guard++) {
            const merged = mergeRunPages(
              shards.map((rows) => page(rows, cursor, limit)),
              limit,
            );
            expect(merged.items.length).toBeLessThanOrEqual(limit);
            seen.push(...merged.items.map((r) => r.id));
            cursor = merged.next;
            if (!cursor) break;
          }
          const all = page(shards.flat(), null, 1_000).items.map((r) => r.id);
          expect(seen).toEqual(all);
        },
      ),
    );
  });
});
