import { describe, expect, it } from "vitest";
import { POOL_REGISTRY, type QueueBinding, queueFor, shardOf } from "../../schema/pools";
import { newRunId } from "../../src/lib/crypto";

/** Stand-ins for the Worker's queue bindings: each answers with its own name. */
const bindings = new Proxy({} as Record<QueueBinding, string>, { get: (_t, name) => String(name) });

describe("sharded pool queues", () => {
  it("a run's steps all go to one shard, the same on every call", () => {
    const runId = newRunId();
    const first = queueFor(bindings, "system", runId);
    for (let i = 0; i < 10; i++) expect(queueFor(bindings, "system", runId)).toBe(first);
    expect(POOL_REGISTRY.system.shards.map((s) => s.binding)).toContain(first);
  });

  it("runs spread evenly over a pool's active shards", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 8_000; i++) {
      const queue = queueFor(bindings, "system", newRunId()) ?? "none";
      counts.set(queue, (counts.get(queue) ?? 0) + 1);
    }
    expect(counts.size).toBe(POOL_REGISTRY.system.activeShards);
    for (const n of counts.values()) expect(Math.abs(n - 2_000)).toBeLessThan(200);
  });

  it("shards beyond the active ones are consumed but take no new steps; an external pool has no queue", () => {
    expect(shardOf("any", 1)).toBe(0);
    expect(shardOf("any", 0)).toBe(0);
    for (let i = 0; i < 100; i++) expect(shardOf(newRunId(), 3)).toBeLessThan(3);
    expect(queueFor(bindings, "external", newRunId())).toBeNull();
    expect(queueFor(bindings, "repo", newRunId())).toBe("QUEUE_REPO");
  });
});
