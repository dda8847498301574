/** The search's query-string form (issue 28): parsed by the API, written by the client, the CLI and the dashboard. */
import { describe, expect, it } from "vitest";
import { searchQs } from "../../client/index";
import { since } from "../../cli/commands/search";
import { filterPairs, parseRunFilter } from "../../schema/search";

describe("the run search's query string", () => {
  it("reads repeated names, metadata.<key> pairs and times, and writes them back the same", () => {
    const text = searchQs({
      tag: ["a", "b:c"],
      status: ["failed", "cancelled"],
      metadata: { customer: "x y" },
      createdAfter: "2026-12-01T00:00:00.000Z",
      limit: 5,
    });
    const parsed = parseRunFilter([...new URLSearchParams(text.slice(1))]);
    expect(parsed).toEqual({
      ok: true,
      filter: {
        tags: ["a", "b:c"],
        statuses: ["failed", "cancelled"],
        metadata: { customer: "x y" },
        createdAfter: Date.parse("2026-12-01T00:00:00Z"),
      },
    });
    if (!parsed.ok) return;
    expect(parseRunFilter(filterPairs(parsed.filter))).toEqual(parsed);
  });

  it("refuses an unknown name, a bad value and an inverted range, naming the parameter", () => {
    const path = (q: string) => {
      const r = parseRunFilter([...new URLSearchParams(q)]);
      return r.ok ? null : r.path;
    };
    expect(path("colour=red")).toBe("colour");
    expect(path("metadata.=x")).toBe("metadata.");
    expect(path("status=lost")).toBe("status");
    expect(path("createdAfter=2026-12-02T00:00:00Z&createdBefore=2026-12-01T00:00:00Z")).toBe("createdBefore");
    expect(path("cursor=abc&limit=3")).toBeNull();
  });

  it("the CLI's --since takes a duration back from now, or a time", () => {
    const now = Date.parse("2026-12-08T00:00:00Z");
    expect(since("7d", now)).toBe("2026-12-01T00:00:00.000Z");
    expect(since("12h", now)).toBe("2026-12-07T12:00:00.000Z");
    expect(since("2026-11-30T10:00:00Z", now)).toBe("2026-11-30T10:00:00.000Z");
    expect(() => since("soon", now)).toThrow(/7d/);
  });
});
