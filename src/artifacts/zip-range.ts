/**
 * A stored zip's table of contents read with R2 range reads (issue 33, finding 9): its last bytes
 * (the end-of-central-directory record and the comment that may follow it), then its central
 * directory, never its entries. A diff of two 64 MiB versions reads kilobytes, not 128 MiB into a
 * 128 MB isolate.
 */
import { centralDirectory, findEnd, type ZipEntryInfo } from "./zip-index";

/** The record (22 bytes) and the longest comment a zip may end with. */
const TAIL_BYTES = 22 + 0xffff;
/** A central directory larger than this is not read (5,000 entries of long paths fit well under it). */
export const MAX_CENTRAL_DIRECTORY_BYTES = 4 * 1024 * 1024;

export type ZipIndexRead =
  | { ok: true; entries: Map<string, ZipEntryInfo> }
  | { ok: false; reason: "gone" | "not_zip" | "too_large" };

async function bytesOf(object: R2ObjectBody | null): Promise<Uint8Array | null> {
  return object ? new Uint8Array(await object.arrayBuffer()) : null;
}

/** The files of the zip stored at `key` (`size` bytes), by path. */
export async function readZipIndex(bucket: R2Bucket, key: string, size: number): Promise<ZipIndexRead> {
  if (size < 22) return { ok: false, reason: "not_zip" };
  const tailLength = Math.min(size, TAIL_BYTES);
  const tail = await bytesOf(await bucket.get(key, { range: { suffix: tailLength } }));
  if (!tail) return { ok: false, reason: "gone" };
  const end = findEnd(tail);
  if (!end || end.offset + end.size > size) return { ok: false, reason: "not_zip" };
  if (end.size > MAX_CENTRAL_DIRECTORY_BYTES) return { ok: false, reason: "too_large" };
  const tailStart = size - tail.byteLength;
  let directory: Uint8Array | null;
  if (end.offset >= tailStart) directory = tail.subarray(end.offset - tailStart, end.offset - tailStart + end.size);
  else directory = await bytesOf(await bucket.get(key, { range: { offset: end.offset, length: end.size } }));
  if (!directory) return { ok: false, reason: "gone" };
  const entries = centralDirectory(directory, end.count);
  return entries ? { ok: true, entries } : { ok: false, reason: "not_zip" };
}
