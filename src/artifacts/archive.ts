/**
 * Archives for the secret scan, read the way extractors read them: a zip's entries come from its
 * central directory one by one (two entries of one name are two entries: `unzip` and Python
 * extract both, so both are scanned), a gzip member from its header. Inflation never writes past
 * the size an entry declares, and an entry that inflates to anything else is reported, not trusted.
 */
import { gunzipSync, inflateSync } from "fflate";

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; anything else this reader cannot inflate. */
  method: number;
  encrypted: boolean;
  compressedSize: number;
  size: number;
  /** Where the entry's local header starts. */
  offset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64 = 0xffffffff;

export const isZipMagic = (b: Uint8Array) =>
  b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && b[3] === (b[2] ?? 0) + 1;
export const isGzipMagic = (b: Uint8Array) => b[0] === 0x1f && b[1] === 0x8b && b[2] === 8;

/**
 * Compressed formats this reader does not open: their content is not scanned, so a file in one
 * makes the scan partial. xz, bzip2, zstd, 7z, rar.
 */
const UNSUPPORTED: readonly number[][] = [
  [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
  [0x42, 0x5a, 0x68],
  [0x28, 0xb5, 0x2f, 0xfd],
  [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c],
  [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07],
];
export const isUnsupportedArchive = (b: Uint8Array) => UNSUPPORTED.some((m) => m.every((x, i) => b[i] === x));

/** Every entry of the central directory, in order, directories left out; null when unreadable. */
export function zipEntries(bytes: Uint8Array): ZipEntry[] | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.byteLength - 22; i >= Math.max(0, bytes.byteLength - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  // ZIP64 (more than 65,534 entries or 4 GiB) is past every scan bound: not read, so partial.
  if (count === 0xffff || at === ZIP64) return null;
  const entries: ZipEntry[] = [];
  const names = new TextDecoder();
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.byteLength || view.getUint32(at, true) !== CENTRAL) return null;
    const nameLength = view.getUint16(at + 28, true);
    if (at + 46 + nameLength > bytes.byteLength) return null;
    const entry: ZipEntry = {
      name: names.decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      encrypted: (view.getUint16(at + 8, true) & 1) === 1,
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      offset: view.getUint32(at + 42, true),
    };
    if (!entry.name.endsWith("/") || entry.size > 0) entries.push(entry);
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return entries;
}

/**
 * One entry's bytes, or a reason it cannot be read. The output buffer holds one byte more than the
 * declared size: an entry that fills it lies about its size and is not scanned as if it did not.
 */
export function readZipEntry(bytes: Uint8Array, e: ZipEntry): Uint8Array | "unreadable" {
  if (e.encrypted || (e.method !== 0 && e.method !== 8) || e.size === ZIP64 || e.compressedSize === ZIP64)
    return "unreadable";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (e.offset + 30 > bytes.byteLength || view.getUint32(e.offset, true) !== LOCAL) return "unreadable";
  const start = e.offset + 30 + view.getUint16(e.offset + 26, true) + view.getUint16(e.offset + 28, true);
  const end = start + e.compressedSize;
  if (end > bytes.byteLength) return "unreadable";
  const data = bytes.subarray(start, end);
  if (e.method === 0) return e.compressedSize === e.size ? data : "unreadable";
  try {
    const out = inflateSync(data, { out: new Uint8Array(e.size + 1) });
    return out.byteLength === e.size ? out : "unreadable";
  } catch {
    return "unreadable";
  }
}

/** A gzip member's declared size (ISIZE, the last four bytes): what the buffer is sized to. */
export const gzipSize = (b: Uint8Array) =>
  b.byteLength < 18 ? 0 : new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(b.byteLength - 4, true);

/** A gzip file's content, inflated into at most its declared size; "unreadable" otherwise. */
export function readGzip(bytes: Uint8Array): Uint8Array | "unreadable" {
  const size = gzipSize(bytes);
  try {
    const out = gunzipSync(bytes, { out: new Uint8Array(size + 1) });
    return out.byteLength === size ? out : "unreadable";
  } catch {
    return "unreadable";
  }
}
