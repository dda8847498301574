/**
 * A zip's table of contents from its central directory alone (no entry is inflated): each file's
 * path, size and CRC-32. What a diff of two versions needs; ZIP64 archives are not read.
 */
export interface ZipEntryInfo {
  size: number;
  crc: number;
}

/** The files of a zip by path, or null when the bytes are not a zip this reader understands. */
export function zipIndex(bytes: Uint8Array): Map<string, ZipEntryInfo> | null {
  const end = findEnd(bytes);
  if (!end || end.offset + end.size > bytes.byteLength) return null;
  return centralDirectory(bytes.subarray(end.offset, end.offset + end.size), end.count);
}

/** Where the central directory is, from the end-of-central-directory record in `tail` (a zip's last bytes). */
export function findEnd(tail: Uint8Array): { count: number; size: number; offset: number } | null {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let i = tail.byteLength - 22; i >= Math.max(0, tail.byteLength - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50)
      return {
        count: view.getUint16(i + 10, true),
        size: view.getUint32(i + 12, true),
        offset: view.getUint32(i + 16, true),
      };
  }
  return null;
}

/** The entries of a central directory's bytes (`count` of them), or null when they are not one. */
export function centralDirectory(bytes: Uint8Array, count: number): Map<string, ZipEntryInfo> | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries = new Map<string, ZipEntryInfo>();
  const decoder = new TextDecoder();
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.byteLength || view.getUint32(at, true) !== 0x02014b50) return null;
    const crc = view.getUint32(at + 16, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const skip = view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const path = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    if (!path.endsWith("/")) entries.set(path, { size, crc });
    at += 46 + nameLength + skip;
  }
  return entries;
}

/** Files added, removed and changed (by CRC-32 and size) from `from` to `to`. */
export function diffIndexes(from: Map<string, ZipEntryInfo>, to: Map<string, ZipEntryInfo>) {
  const added = [...to].filter(([p]) => !from.has(p)).map(([path, e]) => ({ path, size: e.size }));
  const removed = [...from].filter(([p]) => !to.has(p)).map(([path, e]) => ({ path, size: e.size }));
  const changed: { path: string; sizeFrom: number; sizeTo: number }[] = [];
  let unchanged = 0;
  for (const [path, e] of to) {
    const before = from.get(path);
    if (!before) continue;
    if (before.crc !== e.crc || before.size !== e.size) changed.push({ path, sizeFrom: before.size, sizeTo: e.size });
    else unchanged++;
  }
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { added: added.sort(byPath), removed: removed.sort(byPath), changed: changed.sort(byPath), unchanged };
}
