import { describe, expect, it } from "vitest";
import {
  newKeyId,
  newRunId,
  newSecret,
  newTraceId,
  sha256Hex,
  timingSafeEqualHex,
  toHex,
  traceIdFrom,
} from "../../src/lib/crypto";

const RUN_ID = /^run_[0-9a-z]{26}$/;

describe("newRunId", () => {
  it("has the run id format", () => {
    for (let i = 0; i < 50; i++) expect(newRunId()).toMatch(RUN_ID);
    expect(newRunId(0)).toMatch(RUN_ID);
    expect(newRunId(Date.UTC(2100, 0, 1))).toMatch(RUN_ID);
  });

  it("uses Crockford base32 (no i, l, o, u)", () => {
    for (let i = 0; i < 50; i++) expect(newRunId().slice(4)).not.toMatch(/[ilou]/);
  });

  it("encodes the time in the first 10 characters", () => {
    expect(newRunId(0).slice(4, 14)).toBe("0000000000");
    expect(newRunId(31).slice(4, 14)).toBe("000000000z");
    expect(newRunId(32).slice(4, 14)).toBe("0000000010");
    const t = Date.UTC(2026, 4, 1);
    expect(newRunId(t).slice(0, 14)).toBe(newRunId(t).slice(0, 14));
  });

  it("differs between two ids of the same millisecond", () => {
    const t = Date.now();
    expect(newRunId(t)).not.toBe(newRunId(t));
  });

  it("sorts as strings in the order of the times they were made at", () => {
    const base = Date.UTC(2026, 0, 1);
    const times = [base, base + 1, base + 31, base + 32, base + 1023, base + 1024, base + 86_400_000, base + 10 ** 11];
    const ids = times.map((t) => newRunId(t));
    expect([...ids].sort()).toEqual(ids);
    // Across a wide range of (pseudo-random) increasing times, too.
    let t = 1;
    const many: string[] = [];
    for (let i = 0; i < 500; i++) {
      t += 1 + ((i * 7919) % 100_003);
      many.push(newRunId(t));
    }
    expect([...many].sort()).toEqual(many);
  });
});

describe("newKeyId / newSecret / newTraceId", () => {
  it("have the documented lengths and alphabets", () => {
    expect(newKeyId()).toMatch(/^[0-9a-z]{12}$/);
    expect(newSecret()).toMatch(/^[0-9a-z]{40}$/);
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newSecret()).not.toBe(newSecret());
  });

  it("a fresh trace id is accepted inside a traceparent", () => {
    const id = newTraceId();
    expect(traceIdFrom(`00-${id}-00f067aa0ba902b7-01`)).toBe(id);
  });
});

describe("sha256Hex / toHex", () => {
  it("matches the known digest of 'abc'", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("matches the known digest of the empty string", async () => {
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("hashes bytes the same as the equal UTF-8 string", async () => {
    expect(await sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(await sha256Hex("abc"));
    expect(await sha256Hex("€")).toBe(await sha256Hex(new TextEncoder().encode("€")));
  });

  it("toHex pads each byte to two digits", () => {
    expect(toHex(new Uint8Array([0, 1, 15, 16, 255]))).toBe("00010f10ff");
    expect(toHex(new Uint8Array([0xde, 0xad]).buffer)).toBe("dead");
    expect(toHex(new Uint8Array())).toBe("");
  });
});

describe("timingSafeEqualHex", () => {
  const a = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

  it("is true for equal strings", () => {
    expect(timingSafeEqualHex(a, a)).toBe(true);
    expect(timingSafeEqualHex("", "")).toBe(true);
  });

  it("is false when one character differs, first or last", () => {
    expect(timingSafeEqualHex(a, `c${a.slice(1)}`)).toBe(false);
    expect(timingSafeEqualHex(a, `${a.slice(0, -1)}e`)).toBe(false);
  });

  it("is false for different lengths, including a prefix", () => {
    expect(timingSafeEqualHex(a, a.slice(0, -2))).toBe(false);
    expect(timingSafeEqualHex(a, `${a}00`)).toBe(false);
    expect(timingSafeEqualHex("", a)).toBe(false);
  });
});

describe("traceIdFrom", () => {
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";

  it("returns the trace id of a valid traceparent", () => {
    expect(traceIdFrom(`00-${id}-00f067aa0ba902b7-01`)).toBe(id);
    expect(traceIdFrom(`00-${id}-00f067aa0ba902b7-00`)).toBe(id);
  });

  it("rejects an all-zero trace id", () => {
    expect(traceIdFrom(`00-${"0".repeat(32)}-00f067aa0ba902b7-01`)).toBeNull();
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
    ["empty", ""],
    ["garbage", "not-a-traceparent"],
    ["uppercase hex", `00-${id.toUpperCase()}-00f067aa0ba902b7-01`],
    ["a short trace id", `00-${id.slice(1)}-00f067aa0ba902b7-01`],
    ["a long trace id", `00-${id}0-00f067aa0ba902b7-01`],
    ["a short parent id", `00-${id}-00f067aa0ba902b-01`],
    ["a missing flags field", `00-${id}-00f067aa0ba902b7`],
    ["another version", `01-${id}-00f067aa0ba902b7-01`],
    ["non-hex characters", `00-${id.slice(0, -1)}g-00f067aa0ba902b7-01`],
    ["surrounding whitespace", ` 00-${id}-00f067aa0ba902b7-01`],
    ["a trailing field", `00-${id}-00f067aa0ba902b7-01-extra`],
  ])("rejects %s", (_what, header) => {
    expect(traceIdFrom(header)).toBeNull();
  });
});
