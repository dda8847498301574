/**
 * The artifact diff reads only each zip's end and central directory (issue 33, finding 9): the
 * bytes R2 hands over are counted, on a zip of 8 MiB of stored (incompressible) entries.
 */
import { env } from "cloudflare:workers";
import { zipSync } from "fflate";
import { expect, it } from "vitest";
import { zipIndex } from "../../src/artifacts/zip-index";
import { readZipIndex } from "../../src/artifacts/zip-range";

/** The bucket, counting the bytes of every body it returns. */
function counting(bucket: R2Bucket): { bucket: R2Bucket; read: () => number; calls: () => number } {
  let bytes = 0;
  let calls = 0;
  const get = async (key: string, options?: R2GetOptions) => {
    calls++;
    const object = await bucket.get(key, options);
    if (!object) return null;
    const body = new Uint8Array(await object.arrayBuffer());
    bytes += body.byteLength;
    return { arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) };
  };
  return { bucket: { get } as unknown as R2Bucket, read: () => bytes, calls: () => calls };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
}

it("a large zip's index is read in two range reads of a few KiB, and equals the whole file's", async () => {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 4; i++) files[`big/blob-${i}.bin`] = randomBytes(2 * 1024 * 1024);
  for (let i = 0; i < 300; i++)
    files[`src/modules/module-${i}/index.ts`] = new TextEncoder().encode(`export const n = ${i};\n`);
  const zip = zipSync(files, { level: 0 });
  expect(zip.byteLength).toBeGreaterThan(8 * 1024 * 1024);
  const key = "tests/zip-range/large.zip";
  await env.ARTIFACTS.put(key, zip);

  const counted = counting(env.ARTIFACTS);
  const read = await readZipIndex(counted.bucket, key, zip.byteLength);
  expect(read.ok).toBe(true);
  if (!read.ok) return;
  expect(read.entries).toEqual(zipIndex(zip));
  expect(read.entries.size).toBe(304);
  // The tail (at most 64 KiB + 22) and the central directory (304 entries of short names): well
  // under 1% of the file, however the zip is laid out.
  expect(counted.read()).toBeLessThan(128 * 1024);
  expect(counted.calls()).toBeLessThanOrEqual(2);
});

it("a small zip is read in one range read; what is not a zip, or is gone, says so", async () => {
  const zip = zipSync({ "a.txt": new TextEncoder().encode("a") });
  await env.ARTIFACTS.put("tests/zip-range/small.zip", zip);
  const counted = counting(env.ARTIFACTS);
  const small = await readZipIndex(counted.bucket, "tests/zip-range/small.zip", zip.byteLength);
  expect(small.ok && [...small.entries.keys()]).toEqual(["a.txt"]);
  expect(counted.calls()).toBe(1);
  await env.ARTIFACTS.put("tests/zip-range/text", "not a zip at all, just some text of a length");
  expect(await readZipIndex(env.ARTIFACTS, "tests/zip-range/text", 44)).toEqual({ ok: false, reason: "not_zip" });
  expect(await readZipIndex(env.ARTIFACTS, "tests/zip-range/none.zip", 100)).toEqual({ ok: false, reason: "gone" });
});
