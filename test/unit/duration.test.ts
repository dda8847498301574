import { describe, expect, it } from "vitest";
import { parseDuration } from "../../schema/duration";

describe("ISO 8601 durations", () => {
  it.each([
    ["PT2S", 2_000],
    ["PT0.5S", 500],
    ["PT1,25S", 1_250],
    ["PT15M", 900_000],
    ["PT1H30M", 5_400_000],
    ["P1D", 86_400_000],
    ["P1DT12H", 129_600_000],
    ["P2W", 14 * 86_400_000],
    ["PT0S", 0],
    ["PT36H", 129_600_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each(["", "P", "PT", "15M", "PT15", "PT-5S", "P1.5D", "pt5s", "PT5S ", "P1DT", "PT1S2M", "P1H"])(
    "'%s' is refused with a reason",
    (text) => {
      const parsed = parseDuration(text);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain("ISO 8601");
    },
  );

  it.each(["P1Y", "P1M", "P1Y2M", "P1MT5M"])("%s (calendar units) is refused: no fixed length", (text) => {
    const parsed = parseDuration(text);
    expect(parsed).toMatchObject({ ok: false });
    if (!parsed.ok) expect(parsed.reason).toContain("no fixed length");
  });

  it("PT5M is five minutes, not five months", () => {
    expect(parseDuration("PT5M")).toEqual({ ok: true, ms: 300_000 });
  });
});
