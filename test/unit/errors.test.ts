import { describe, expect, it } from "vitest";
import { AppError, NonRetryableError, RetryAfterError, problems, toErrorShape } from "../../src/errors";

describe("error classes", () => {
  it("AppError defaults to status 500 and retryable", () => {
    const e = new AppError("x.y", "boom");
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: "AppError", code: "x.y", message: "boom", status: 500, retryable: true });
    expect(e.retryAfterMs).toBeUndefined();
  });

  it("NonRetryableError is an AppError that is never retryable", () => {
    const e = new NonRetryableError("a.b", "no", { status: 409 });
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ name: "NonRetryableError", retryable: false, status: 409 });
  });

  it("RetryAfterError keeps its delay and stays retryable", () => {
    const e = new RetryAfterError("upstream.rate_limited", "slow down", 1500);
    expect(e).toMatchObject({ name: "RetryAfterError", retryable: true, retryAfterMs: 1500 });
  });

  it("keeps the cause", () => {
    const cause = new Error("root");
    expect(new AppError("x", "y", { cause }).cause).toBe(cause);
  });

  it("problems are 4xx and not retryable", () => {
    const all = [
      problems.invalid("bad", [{ path: "a", message: "b" }]),
      problems.malformedJson(),
      problems.tooLarge(10),
      problems.unauthenticated(),
      problems.forbidden("auth.insufficient_scope", "no"),
      problems.notFound("run.not_found", "gone"),
      problems.conflict("run.conflict", "busy"),
      problems.unprocessable("step.invalid_input", "bad", []),
    ];
    for (const p of all) {
      expect(p.status).toBeGreaterThanOrEqual(400);
      expect(p.status).toBeLessThan(500);
      expect(p.retryable).toBe(false);
    }
    expect(problems.invalid("bad", [{ path: "a", message: "b" }]).errors).toEqual([{ path: "a", message: "b" }]);
    expect(problems.tooLarge(10).message).toContain("10");
  });
});

describe("toErrorShape", () => {
  it("takes an AppError's own wire form", () => {
    expect(toErrorShape(new AppError("x.y", "boom"))).toEqual({ code: "x.y", message: "boom", retryable: true });
  });

  it("keeps a NonRetryableError non-retryable", () => {
    expect(toErrorShape(new NonRetryableError("repo.plan_missing", "no plan"))).toEqual({
      code: "repo.plan_missing",
      message: "no plan",
      retryable: false,
    });
  });

  it("keeps a RetryAfterError's retryAfterMs", () => {
    expect(toErrorShape(new RetryAfterError("up.429", "later", 2500))).toEqual({
      code: "up.429",
      message: "later",
      retryable: true,
      retryAfterMs: 2500,
    });
  });

  it("survives JSON: the wire form of an error maps back to itself", () => {
    const wire = JSON.parse(JSON.stringify(new RetryAfterError("up.429", "later", 2500))) as unknown;
    expect(toErrorShape(wire)).toEqual({ code: "up.429", message: "later", retryable: true, retryAfterMs: 2500 });
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
