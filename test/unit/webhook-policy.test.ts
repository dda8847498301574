import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCHEDULE_MS,
  matchesEventType,
  parseSchedule,
  retryDelay,
  shouldDisable,
} from "../../src/webhooks/policy";
import { parseRetryAfter } from "../../src/lib/retry-after";
import { newSigningSecret, signatureHeaders } from "../../src/webhooks/sign";

describe("retry schedule", () => {
  it("is about a day by default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect(DEFAULT_SCHEDULE_MS).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    const total = DEFAULT_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(27);
    expect(total / 3_600_000).toBeLessThan(28);
  });

  it("waits the n-th entry after the n-th failure, jittered by at most ±20 %", () => {
    expect(retryDelay(1, DEFAULT_SCHEDULE_MS, undefined, () => 0.5)).toBe(5_000);
    expect(retryDelay(2, DEFAULT_SCHEDULE_MS, undefined, () => 0)).toBe(240_000);
    expect(retryDelay(2, DEFAULT_SCHEDULE_MS, undefined, () => 0.999999)).toBeCloseTo(360_000, -1);
  });

  it("gives up when the schedule is spent", () => {
    expect(retryDelay(DEFAULT_SCHEDULE_MS.length + 1, DEFAULT_SCHEDULE_MS)).toBeNull();
    expect(retryDelay(1, [])).toBeNull();
  });

  it("honours Retry-After as a floor", () => {
    expect(retryDelay(1, [1_000], 60_000, () => 0.5)).toBe(60_000);
    expect(retryDelay(1, [90_000], 60_000, () => 0.5)).toBe(90_000);
  });

  it("parses Retry-After in seconds or as a date, capped at a day", () => {
    expect(parseRetryAfter("30", 0)).toBe(30_000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter("999999", 0)).toBe(86_400_000);
    expect(parseRetryAfter("0", 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });

  it("reads a schedule from configuration, falling back to the default", () => {
    expect(parseSchedule("100, 200,400")).toEqual([100, 200, 400]);
    expect(parseSchedule(undefined)).toBe(DEFAULT_SCHEDULE_MS);
    expect(parseSchedule("nonsense")).toBe(DEFAULT_SCHEDULE_MS);
  });
});

describe("matching and disablement", () => {
  it("matches *, a family and an exact type", () => {
    expect(matchesEventType(["*"], "step.failed")).toBe(true);
    expect(matchesEventType(["run.*"], "run.succeeded")).toBe(true);
    expect(matchesEventType(["run.*"], "step.failed")).toBe(false);
    expect(matchesEventType(["step.failed"], "step.failed")).toBe(true);
    expect(matchesEventType(["step.failed"], "step.succeeded")).toBe(false);
    expect(matchesEventType(["ru*"], "run.failed")).toBe(false);
  });

  it("disables only after enough consecutive failures over enough time", () => {
    const policy = { failures: 5, afterMs: 1_000 };
    expect(shouldDisable(5, 0, 1_000, policy)).toBe(true);
    expect(shouldDisable(4, 0, 10_000, policy)).toBe(false);
    expect(shouldDisable(50, 9_500, 10_000, policy)).toBe(false);
    expect(shouldDisable(50, null, 10_000, policy)).toBe(false);
  });
});

describe("signing", () => {
  const payload = JSON.stringify({ eventId: "evt_1", type: "run.succeeded" });

  it("produces headers the reference library verifies", () => {
    const secret = newSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const headers = signatureHeaders("evt_1", payload, [secret], new Date());
    expect(headers["webhook-id"]).toBe("evt_1");
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  it("signs with both secrets during a rotation's overlap, so either verifies", () => {
    const [oldSecret, newSecret] = [newSigningSecret(), newSigningSecret()];
    const headers = signatureHeaders("evt_1", payload, [newSecret, oldSecret], new Date());
    expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(payload, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(payload, headers)).not.toThrow();
    expect(() => new Webhook(newSigningSecret()).verify(payload, headers)).toThrow();
  });

  it("a tampered payload or an old timestamp does not verify", () => {
    const secret = newSigningSecret();
    const headers = signatureHeaders("evt_1", payload, [secret], new Date());
    expect(() => new Webhook(secret).verify(payload.replace("succeeded", "failed"), headers)).toThrow();
    const stale = signatureHeaders("evt_1", payload, [secret], new Date(Date.now() - 60 * 60_000));
    expect(() => new Webhook(secret).verify(payload, stale)).toThrow();
  });
});
