import { describe, expect, it } from "vitest";
import { BATCH_LIMITS, chunkBatches, messageBytes, sendChunked } from "../../src/lib/queue-batch";

interface Row {
  id: number;
  size: number;
}

const rows = (sizes: number[]): Row[] => sizes.map((size, id) => ({ id, size }));
const bytes = (r: Row) => r.size;
const sum = (batch: Row[]) => batch.reduce((n, r) => n + r.size, 0);

/** The invariants every chunking must keep, whatever the input. */
function expectValid(input: Row[], batches: Row[][], limits: { maxMessages: number; maxBytes: number }): void {
  // Order preserved, nothing lost or duplicated.
  expect(batches.flat().map((r) => r.id)).toEqual(input.map((r) => r.id));
  for (const batch of batches) {
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.length).toBeLessThanOrEqual(limits.maxMessages);
    // Over the byte limit only when a single row alone exceeds it.
    if (sum(batch) > limits.maxBytes) expect(batch).toHaveLength(1);
  }
}

describe("chunkBatches", () => {
  it("returns [] for no rows", () => {
    expect(chunkBatches([], bytes)).toEqual([]);
  });

  it("has the queue limits as defaults", () => {
    expect(BATCH_LIMITS).toEqual({ maxMessages: 100, maxBytes: 240_000 });
  });

  it("splits 250 small rows into 100/100/50 with the default limits", () => {
    const input = rows(Array.from({ length: 250 }, () => 10));
    const batches = chunkBatches(input, bytes);
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expectValid(input, batches, BATCH_LIMITS);
  });

  it("fills exactly maxMessages into one batch", () => {
    const batches = chunkBatches(rows(Array.from({ length: 100 }, () => 1)), bytes);
    expect(batches.map((b) => b.length)).toEqual([100]);
  });

  it("splits on bytes before messages when rows are large", () => {
    // 10 rows of 50 KB: four fit under 240 000, a fifth would not.
    const input = rows(Array.from({ length: 10 }, () => 50_000));
    const batches = chunkBatches(input, bytes);
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
    expectValid(input, batches, BATCH_LIMITS);
  });

  it("allows a batch to hit maxBytes exactly", () => {
    const limits = { maxMessages: 10, maxBytes: 100 };
    const batches = chunkBatches(rows([40, 60, 1]), bytes, limits);
    expect(batches.map((b) => b.map((r) => r.id))).toEqual([[0, 1], [2]]);
  });

  it("puts a row that alone exceeds maxBytes in a batch of its own", () => {
    const limits = { maxMessages: 10, maxBytes: 100 };
    const input = rows([10, 500, 10, 10, 700]);
    const batches = chunkBatches(input, bytes, limits);
    expect(batches.map((b) => b.map((r) => r.id))).toEqual([[0], [1], [2, 3], [4]]);
    expectValid(input, batches, limits);
  });

  it("handles an oversized first row", () => {
    const limits = { maxMessages: 10, maxBytes: 100 };
    const batches = chunkBatches(rows([1000, 1]), bytes, limits);
    expect(batches.map((b) => b.map((r) => r.id))).toEqual([[0], [1]]);
  });

  it("measures each row once with the given function", () => {
    const seen: number[] = [];
    const measure = (r: Row) => {
      seen.push(r.id);
      return r.size;
    };
    chunkBatches(rows([1, 2, 3]), measure, { maxMessages: 2, maxBytes: 100 });
    expect(seen).toEqual([0, 1, 2]);
  });

  it("keeps its invariants on many pseudo-random inputs", () => {
    let seed = 42;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 200; round++) {
      const limits = { maxMessages: 1 + Math.floor(rand() * 8), maxBytes: 50 + Math.floor(rand() * 200) };
      const input = rows(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 120)));
      const batches = chunkBatches(input, bytes, limits);
      expectValid(input, batches, limits);
      // Greedy: no batch could have taken the next batch's first row.
      for (let i = 0; i + 1 < batches.length; i++) {
        const batch = batches[i]!;
        const next = batches[i + 1]![0]!;
        const couldTake = batch.length < limits.maxMessages && sum(batch) + next.size <= limits.maxBytes;
        expect(couldTake).toBe(false);
      }
    }
  });
});

/** A queue that holds what it was sent and refuses, as the platform does, what is over its limits. */
function strictQueue(opts: { failOnCall?: number } = {}) {
  const batches: unknown[][] = [];
  let calls = 0;
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<unknown>>) {
      const batch = [...messages].map((m) => m.body);
      calls++;
      if (calls === opts.failOnCall) throw new Error("Unknown Internal Error (15000)");
      if (batch.length > 100 || batch.reduce((n: number, b) => n + messageBytes(b), 0) > 256_000)
        throw new Error("Unknown Internal Error (15000)");
      batches.push(batch);
    },
  };
  return { queue: queue as unknown as Queue<unknown>, batches };
}

describe("sendChunked", () => {
  it("sends 1,000 messages in batches the platform accepts, in order", async () => {
    const { queue, batches } = strictQueue();
    const bodies = Array.from({ length: 1_000 }, (_, i) => ({ i }));
    expect(await sendChunked(queue, bodies)).toEqual({ sent: 1_000, error: null });
    expect(batches).toHaveLength(10);
    expect(batches.flat()).toEqual(bodies);
  });

  it("splits by bytes as well as by count", async () => {
    const { queue, batches } = strictQueue();
    const bodies = Array.from({ length: 30 }, (_, i) => ({ i, pad: "é".repeat(20_000) })); // 40 KB each in UTF-8
    expect(await sendChunked(queue, bodies)).toEqual({ sent: 30, error: null });
    expect(batches.length).toBeGreaterThanOrEqual(6);
  });

  it("stops at the first failed batch and says which prefix went out; it does not throw", async () => {
    const { queue, batches } = strictQueue({ failOnCall: 3 });
    const result = await sendChunked(
      queue,
      Array.from({ length: 450 }, (_, i) => ({ i })),
    );
    expect(result.sent).toBe(200);
    expect(String(result.error)).toContain("15000");
    expect(batches.flat()).toHaveLength(200);
  });
});
