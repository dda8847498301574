/** Byte helpers for scanning tests: hostile zips that fflate's own writer will not make. */
import { strToU8, zipSync } from "fflate";

/** The concatenation of text and bytes. */
export const join = (...parts: (string | Uint8Array)[]) => {
  const bytes = parts.map((p) => (typeof p === "string" ? strToU8(p) : p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
};

/** A zip of the given entries in order, names repeated as given (fflate's zipSync keys by name). */
export function zipOf(entries: [string, Uint8Array][]): Uint8Array {
  const parts = entries.map(([name, data]) => zipSync({ [name]: data }, { level: 0 }));
  // Each one-entry zip is [local header + data][central record][end record]: splice them together.
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const z of parts) {
    const view = new DataView(z.buffer, z.byteOffset, z.byteLength);
    const end = z.byteLength - 22;
    const cdStart = view.getUint32(end + 16, true);
    const local = z.slice(0, cdStart);
    const central = z.slice(cdStart, end);
    new DataView(central.buffer).setUint32(42, offset, true);
    locals.push(local);
    centrals.push(central);
    offset += local.byteLength;
  }
  const cdSize = centrals.reduce((n, c) => n + c.byteLength, 0);
  const eocd = new Uint8Array(22);
  const v = new DataView(eocd.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, cdSize, true);
  v.setUint32(16, offset, true);
  return join(...locals, ...centrals, eocd);
}
