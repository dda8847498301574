import { describe, expect, it } from "vitest";
import { exampleInput } from "../../../dashboard/src/examples";
import {
  NONE,
  elapsedMs,
  formatBytes,
  formatDuration,
  formatPercent,
  formatTime,
  formatUsd,
  tenantOfKey,
} from "../../../dashboard/src/format";
import { SseParser } from "../../../dashboard/src/sse";

describe("formatting", () => {
  it("writes durations at a readable precision", () => {
    expect([0, 999, 1234, 12_345, 125_000, 3_725_000].map(formatDuration)).toEqual([
      "0 ms",
      "999 ms",
      "1.23 s",
      "12.3 s",
      "2m 05s",
      "1h 02m",
    ]);
    expect(formatDuration(null)).toBe(NONE);
  });

  it("writes money in cents from a dollar up, and in millionths below", () => {
    expect([0, 0.000041, 0.5, 1234.5].map(formatUsd)).toEqual(["$0.00", "$0.000041", "$0.500000", "$1,234.50"]);
    expect(formatUsd(undefined)).toBe(NONE);
  });

  it("writes ratios, sizes, times and spans", () => {
    expect([1, 0.9512, null].map(formatPercent)).toEqual(["100.0%", "95.1%", NONE]);
    expect([512, 4926, 5 * 1024 * 1024].map(formatBytes)).toEqual(["512 B", "4.8 KiB", "5.0 MiB"]);
    expect(formatTime("2026-11-27T21:01:43.123Z")).toBe("2026-11-27 21:01:43 UTC");
    expect(formatTime(null)).toBe(NONE);
    expect(elapsedMs("2026-11-27T21:01:43.000Z", "2026-11-27T21:01:44.500Z")).toBe(1500);
    expect(elapsedMs("2026-11-27T21:01:43.000Z", null)).toBeNull();
  });

  it("reads the tenant from a key and nothing from anything else", () => {
    expect(tenantOfKey(`frk_acme-co_${"a".repeat(12)}_${"b".repeat(40)}`)).toBe("acme-co");
    expect(tenantOfKey("Bearer nonsense")).toBeNull();
  });
});

describe("exampleInput", () => {
  it("fills a blueprint's required fields from its JSON Schema", () => {
    const schema = {
      type: "object",
      required: ["name", "count", "nested"],
      properties: {
        name: { type: "string", description: "package and repository name, e.g. billing-api" },
        count: { type: "integer" },
        nested: { type: "object", required: ["mode"], properties: { mode: { enum: ["fast", "slow"] } } },
        optional: { type: "string" },
      },
    };
    expect(exampleInput(schema)).toEqual({ name: "billing-api", count: 1, nested: { mode: "fast" } });
  });
});

describe("SseParser", () => {
  it("parses messages split across chunks, multi-line data and comments", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\n\nid: 3\nevent: step.started\nda")).toEqual([]);
    expect(p.push('ta: {"seq":3}\n\nid: 4\r\ndata: line one\r\ndata: line two\r\n\r\n')).toEqual([
      { id: "3", event: "step.started", data: '{"seq":3}' },
      { id: "4", event: "message", data: "line one\nline two" },
    ]);
  });
});
