import { describe, expect, it } from "vitest";
import { ERRORS, refuse } from "../../schema/errors";
import { AppError, NonRetryableError, RetryAfterError, toErrorShape } from "../../src/errors";

describe("error classes", () => {
  it("AppError takes its status and retryability from the registry", () => {
    const e = new AppError("run.not_found", "gone");
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({
      name: "AppError",
      code: "run.not_found",
      message: "gone",
      status: 404,
      retryable: false,
    });
    expect(e.retryAfterMs).toBeUndefined();
    expect(new AppError("rate.limited")).toMatchObject({ status: 429, retryable: true });
  });

  it("without a message, the code's title is the message", () => {
    expect(new AppError("run.not_found").message).toBe(ERRORS["run.not_found"].title);
  });

  it("a code that never reaches the API would answer 500; a job's error defaults to the registry's retryability", () => {
    expect(new AppError("system.fail", "boom")).toMatchObject({ status: 500, retryable: true });
    expect(new AppError("repo.plan_missing", "no plan")).toMatchObject({ status: 500, retryable: false });
  });

  it("NonRetryableError is an AppError that is never retryable", () => {
    const e = new NonRetryableError("system.fail", "no");
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ name: "NonRetryableError", retryable: false });
  });

  it("RetryAfterError keeps its delay and stays retryable", () => {
    const e = new RetryAfterError("agent.rate_limited", "slow down", 1500);
    expect(e).toMatchObject({ name: "RetryAfterError", retryable: true, retryAfterMs: 1500 });
  });

  it("keeps the cause", () => {
    const cause = new Error("root");
    expect(new AppError("internal", "y", { cause }).cause).toBe(cause);
  });

  it("maps a refusal with the registry's status, its message and its wait", () => {
    expect(AppError.from(refuse("run.not_resumable", "a running run cannot resume"))).toMatchObject({
      code: "run.not_resumable",
      message: "a running run cannot resume",
      status: 409,
    });
    expect(AppError.from({ ...refuse("rate.limited"), retryAfterMs: 900 })).toMatchObject({
      status: 429,
      retryAfterMs: 900,
      message: ERRORS["rate.limited"].title,
    });
  });

  it("client errors of the API are 4xx and not retryable, but for the waits", () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      if (spec.status === null || spec.status >= 500) continue;
      expect(spec.retryable, code).toBe(spec.status === 429);
    }
  });
});

describe("toErrorShape", () => {
  it("takes an AppError's own wire form", () => {
    expect(toErrorShape(new AppError("system.fail", "boom"))).toEqual({
      code: "system.fail",
      message: "boom",
      retryable: true,
    });
  });

  it("keeps a NonRetryableError non-retryable", () => {
    expect(toErrorShape(new NonRetryableError("repo.plan_missing", "no plan"))).toEqual({
      code: "repo.plan_missing",
      message: "no plan",
      retryable: false,
    });
  });

  it("keeps a RetryAfterError's retryAfterMs", () => {
    expect(toErrorShape(new RetryAfterError("agent.rate_limited", "later", 2500))).toEqual({
      code: "agent.rate_limited",
      message: "later",
      retryable: true,
      retryAfterMs: 2500,
    });
  });

  it("survives JSON: the wire form of an error maps back to itself", () => {
    const wire = JSON.parse(JSON.stringify(new RetryAfterError("agent.rate_limited", "later", 2500))) as unknown;
    expect(toErrorShape(wire)).toEqual({
      code: "agent.rate_limited",
      message: "later",
      retryable: true,
      retryAfterMs: 2500,
    });
  });

  it("treats a plain Error as a retryable step.error", () => {
    expect(toErrorShape(new Error("disk on fire"))).toEqual({
      code: "step.error",
      message: "disk on fire",
      retryable: true,
    });
  });

  it("falls back to the error's name when its message is empty", () => {
    expect(toErrorShape(new TypeError())).toEqual({ code: "step.error", message: "TypeError", retryable: true });
  });

  it("reads code and retryable off an Error that carries our fields across RPC", () => {
    const e = Object.assign(new Error("remote"), { code: "repo.file_conflict", retryable: false });
    expect(toErrorShape(e)).toMatchObject({ code: "repo.file_conflict", message: "remote", retryable: false });
    const r = Object.assign(new Error("remote"), { code: "up.429", retryable: true, retryAfterMs: 900 });
    expect(toErrorShape(r)).toMatchObject({ code: "up.429", retryable: true, retryAfterMs: 900 });
  });

  it("the shape of an Error carrying our fields keeps its message through JSON", () => {
    const e = Object.assign(new Error("remote"), { code: "repo.file_conflict", retryable: false });
    expect(JSON.parse(JSON.stringify(toErrorShape(e)))).toEqual({
      code: "repo.file_conflict",
      message: "remote",
      retryable: false,
    });
  });

  it("accepts a plain object of the error shape", () => {
    expect(toErrorShape({ code: "a.b", message: "m", retryable: false })).toEqual({
      code: "a.b",
      message: "m",
      retryable: false,
    });
  });

  it("does not accept an object missing a field of the shape", () => {
    expect(toErrorShape({ code: "a.b", message: "m" })).toMatchObject({ code: "step.error", retryable: true });
    expect(toErrorShape({ code: "a.b", message: "m", retryable: "no" })).toMatchObject({
      code: "step.error",
      retryable: true,
    });
  });

  it("wraps a string, a number, null and undefined as retryable step.error", () => {
    expect(toErrorShape("it broke")).toEqual({ code: "step.error", message: "it broke", retryable: true });
    expect(toErrorShape(42)).toEqual({ code: "step.error", message: "42", retryable: true });
    expect(toErrorShape(null)).toEqual({ code: "step.error", message: "null", retryable: true });
    expect(toErrorShape(undefined)).toEqual({ code: "step.error", message: "undefined", retryable: true });
  });
});
