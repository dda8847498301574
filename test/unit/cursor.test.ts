import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, type Cursor } from "../../src/api/cursor";

const b64url = (s: string) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

describe("encodeCursor / decodeCursor", () => {
  it.each<Cursor>([
    { createdAt: 1_767_225_600_000, runId: "run_01jdz3k7m9q2w8e4r6t0y1u3i5" },
    { createdAt: 0, runId: "" },
    { createdAt: -5, runId: "x" },
    { createdAt: 1, runId: "???~~~>>>" },
    { createdAt: 42, runId: "r".repeat(64) },
  ])("round trips %j", (cursor) => {
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it("is URL-safe: no '+', '/' or '=' padding", () => {
    // This cursor's plain base64 contains both '/' and '=' padding.
    const plain = btoa(JSON.stringify({ createdAt: 1, runId: "???~~~>>>" }));
    expect(plain).toMatch(/[/=]/);
    const text = encodeCursor({ createdAt: 1, runId: "???~~~>>>" });
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("is opaque: not the JSON itself", () => {
    expect(encodeCursor({ createdAt: 1, runId: "run_x" })).not.toContain("runId");
  });

  it.each([
    ["the empty string", ""],
    ["punctuation", "!!!"],
    ["plain words", "not a cursor"],
    ["base64 of non-JSON", b64url("hello")],
    ["base64 of a JSON array", b64url("[1,2]")],
    ["base64 of null", b64url("null")],
    ["a missing runId", b64url(JSON.stringify({ createdAt: 1 }))],
    ["a missing createdAt", b64url(JSON.stringify({ runId: "r" }))],
    ["a fractional createdAt", b64url(JSON.stringify({ createdAt: 1.5, runId: "r" }))],
    ["a string createdAt", b64url(JSON.stringify({ createdAt: "1", runId: "r" }))],
    ["a runId over 64 characters", b64url(JSON.stringify({ createdAt: 1, runId: "r".repeat(65) }))],
    ["an extra field", b64url(JSON.stringify({ createdAt: 1, runId: "r", admin: true }))],
    ["a truncated cursor", encodeCursor({ createdAt: 1, runId: "run_abc" }).slice(0, -3)],
    ["a one-character string", "a"],
  ])("decodes %s to null", (_what, text) => {
    expect(decodeCursor(text)).toBeNull();
  });
});
