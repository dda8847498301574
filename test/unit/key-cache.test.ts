import { describe, expect, it } from "vitest";
import type { Scope } from "../../schema/tenants";
import { KeyCache } from "../../src/api/key-cache";

const v = (scopes: Scope[]) => ({ scopes, key: { id: "k1", name: null } });

describe("the isolate's key cache", () => {
  it("answers from the cache while it holds tokens and has not expired, then asks again", () => {
    const cache = new KeyCache(5_000);
    expect(cache.take("k", 0)).toBeNull();
    cache.put("k", "acme", v(["runs:read"]), 3, 0); // one token is the current request's
    expect(cache.take("k", 100)).toEqual(v(["runs:read"]));
    expect(cache.take("k", 200)).toEqual(v(["runs:read"]));
    expect(cache.take("k", 300)).toBeNull(); // spent
    cache.put("k", "acme", v(["runs:read"]), 5, 300);
    expect(cache.take("k", 5_299)).toEqual(v(["runs:read"]));
    expect(cache.take("k", 5_300)).toBeNull(); // expired: a revoked key is refused by then
  });

  it("leases grow while an isolate spends them before they expire, and shrink when it does not", () => {
    const cache = new KeyCache(5_000);
    expect(cache.lease("k", 0)).toBe(1);
    cache.put("k", "acme", v([]), 1, 0);
    expect(cache.lease("k", 10)).toBe(2);
    cache.put("k", "acme", v([]), 2, 10);
    cache.take("k", 20);
    expect(cache.lease("k", 30)).toBe(4);
    cache.put("k", "acme", v([]), 32, 30);
    expect(cache.lease("k", 40)).toBe(32); // capped
    expect(cache.lease("k", 10_000)).toBe(16); // it expired with tokens left: ask for fewer
  });

  it("forgets a tenant's entries at once, evicts the oldest past its size, and a TTL of 0 caches nothing", () => {
    const cache = new KeyCache(5_000, 2);
    cache.put("a", "acme", v([]), 5, 0);
    cache.put("b", "globex", v([]), 5, 0);
    cache.forgetTenant("acme");
    expect(cache.take("a", 1)).toBeNull();
    expect(cache.take("b", 1)).toEqual(v([]));
    cache.put("c", "initech", v([]), 5, 0);
    cache.put("d", "umbrella", v([]), 5, 0);
    expect(cache.take("b", 1)).toBeNull(); // the oldest went first
    expect(cache.take("d", 1)).toEqual(v([]));
    const off = new KeyCache(0);
    off.put("k", "acme", v([]), 5, 0);
    expect(off.take("k", 1)).toBeNull();
    expect(off.lease("k", 1)).toBe(1);
  });
});
