/**
 * Every `sendBatch` in the runtime goes through `sendChunked`: a queue refuses a batch of more
 * than 100 messages or 256 KB (locally only as `Unknown Internal Error (15000)`), so a caller that
 * sends "everything due" in one call fails for good the day more than 100 things are due.
 */

/** Queue limits per sendBatch: 100 messages and 256 KB (kept under, for per-message overhead). */
export const BATCH_LIMITS = { maxMessages: 100, maxBytes: 240_000 } as const;

/** What a message costs beyond its JSON body (content type, delay, ids), by estimate. */
const MESSAGE_OVERHEAD_BYTES = 64;

/** Splits rows into batches no queue will refuse. Pure; `bytes` measures one row. */
export function chunkBatches<T>(
  rows: readonly T[],
  bytes: (row: T) => number,
  limits: { maxMessages: number; maxBytes: number } = BATCH_LIMITS,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const row of rows) {
    const n = bytes(row);
    if (current.length > 0 && (current.length >= limits.maxMessages || size + n > limits.maxBytes)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += n;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

const encoder = new TextEncoder();

/** A message body's size on the wire: its JSON in UTF-8 plus the per-message overhead. */
export const messageBytes = (body: unknown): number =>
  encoder.encode(JSON.stringify(body)).byteLength + MESSAGE_OVERHEAD_BYTES;

/** How a chunked send ended: the first `sent` bodies went out, in order; `error` stopped the rest. */
export interface ChunkedSend {
  sent: number;
  error: unknown;
}

/**
 * Sends `bodies` in order, in batches within the platform's limits, and stops at the first batch
 * that fails, so the caller knows exactly which prefix went out and can keep the rest due. Never
 * throws: a failed send is a result the caller must act on (keep timers, back off).
 */
export async function sendChunked<T>(queue: Queue<T>, bodies: readonly T[]): Promise<ChunkedSend> {
  let sent = 0;
  for (const batch of chunkBatches(bodies, messageBytes)) {
    try {
      await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
    } catch (error) {
      return { sent, error };
    }
    sent += batch.length;
  }
  return { sent, error: null };
}
