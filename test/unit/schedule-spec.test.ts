import { describe, expect, it } from "vitest";
import { nextFire, nextFires, specProblem } from "../../src/control/automation/spec";

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("schedule fire times (croner, in workerd)", () => {
  const berlin = { cron: "30 2 * * *", timezone: "Europe/Berlin" };

  it("02:30 Europe/Berlin fires once on the spring-forward day (at 03:00 CEST: 02:30 does not exist)", () => {
    const fires = nextFires(berlin, 0, t("2026-03-28T00:00:00Z"), 3).map(iso);
    expect(fires).toEqual(["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"]);
  });

  it("02:30 Europe/Berlin fires once on the fall-back day (02:30 happens twice)", () => {
    const fires = nextFires(berlin, 0, t("2026-10-24T00:00:00Z"), 3).map(iso);
    expect(fires).toEqual(["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
    const onTheDay = fires.filter((f) => f.startsWith("2026-10-25"));
    expect(onTheDay).toHaveLength(1);
  });

  it("every counts whole periods from its anchor; the first fire is one period after it", () => {
    const anchor = t("2026-01-01T00:00:00Z");
    expect(nextFire({ every: "PT15M" }, anchor, anchor)).toBe(anchor + 900_000);
    expect(nextFire({ every: "PT15M" }, anchor, anchor + 900_000)).toBe(anchor + 1_800_000);
    expect(nextFire({ every: "PT15M" }, anchor, anchor + 900_001)).toBe(anchor + 1_800_000);
    expect(nextFires({ every: "P1D" }, anchor, anchor, 2)).toEqual([anchor + 86_400_000, anchor + 2 * 86_400_000]);
  });

  it("at fires once, then never", () => {
    const at = "2027-01-01T00:00:00Z";
    expect(nextFire({ at }, 0, t("2026-12-31T00:00:00Z"))).toBe(t(at));
    expect(nextFire({ at }, 0, t(at))).toBeNull();
    expect(nextFires({ at }, 0, 0, 5)).toEqual([t(at)]);
  });

  it("names what is wrong, in croner's words for cron and time zone", () => {
    const now = t("2026-06-01T00:00:00Z");
    expect(specProblem({ cron: "0 9 * * 1-5", timezone: "Europe/Berlin" }, now, 1000)).toBeNull();
    expect(specProblem({ cron: "61 * * * *", timezone: "UTC" }, now, 1000)).toContain("minute");
    expect(specProblem({ cron: "0 9 * * *", timezone: "Not/AZone" }, now, 1000)).toContain("timezone");
    expect(specProblem({ cron: "* * * * * *", timezone: "UTC" }, now, 60_000)).toContain("more often");
    expect(specProblem({ every: "PT30S" }, now, 60_000)).toContain("at least 60 s");
    expect(specProblem({ every: "PT1M" }, now, 60_000)).toBeNull();
    expect(specProblem({ at: "2026-05-31T23:59:59Z" }, now, 1000)).toContain("past");
  });
});
