import { describe, expect, it } from "vitest";
import { artifactKey, isSafeSegment, type ArtifactScope } from "../../src/artifacts/keys";
import { AppError, NonRetryableError, toErrorShape } from "../../src/errors";

const scope: ArtifactScope = {
  tenantId: "acme",
  runId: "run_01jdz3k7m9q2w8e4r6t0y1u3i5",
  stepId: "package",
  attempt: 2,
};

function refusal(fn: () => unknown): NonRetryableError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NonRetryableError);
    return err as NonRetryableError;
  }
  throw new Error("expected a throw");
}

describe("artifactKey", () => {
  it("builds tenants/{t}/runs/{r}/steps/{s}/{attempt}/{name}", () => {
    expect(artifactKey(scope, "billing-api.zip")).toBe(
      "tenants/acme/runs/run_01jdz3k7m9q2w8e4r6t0y1u3i5/steps/package/2/billing-api.zip",
    );
  });

  it("gives each attempt its own key", () => {
    expect(artifactKey({ ...scope, attempt: 1 }, "a.txt")).not.toBe(artifactKey({ ...scope, attempt: 3 }, "a.txt"));
    expect(artifactKey({ ...scope, attempt: 1 }, "a.txt")).toMatch(/\/1\/a\.txt$/);
  });

  it("accepts a name of exactly 128 characters", () => {
    const name = "a".repeat(128);
    expect(artifactKey(scope, name).endsWith(`/2/${name}`)).toBe(true);
  });

  it.each([
    ["..", ".."],
    ["a slash", "a/b"],
    ["a traversal with slashes", "../../etc/passwd"],
    ["an embedded '..'", "a..b"],
    ["an encoded traversal", "%2e%2e%2f"],
    ["a NUL byte", "a\u0000b"],
    ["a leading dot", ".env"],
    ["the empty string", ""],
    ["129 characters", "a".repeat(129)],
    ["a backslash", "a\\b"],
    ["a space", "a b"],
    ["a trailing newline", "a.txt\n"],
    ["a non-ASCII letter", "résumé.txt"],
  ])("rejects a name with %s", (_what, name) => {
    const err = refusal(() => artifactKey(scope, name));
    expect(err.code).toBe("artifact.invalid_name");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("artifact name");
  });

  it("checks the tenant, run and step segments too", () => {
    expect(refusal(() => artifactKey({ ...scope, tenantId: "../other" }, "a")).message).toContain("tenant");
    expect(refusal(() => artifactKey({ ...scope, runId: "r/1" }, "a")).message).toContain("run");
    expect(refusal(() => artifactKey({ ...scope, stepId: "" }, "a")).message).toContain("step");
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects attempt %s", (attempt) => {
    const err = refusal(() => artifactKey({ ...scope, attempt }, "a.txt"));
    expect(err.code).toBe("artifact.invalid_name");
    expect(err.message).toContain("attempt");
  });

  it("throws an AppError whose wire shape says not to retry", () => {
    const err = refusal(() => artifactKey(scope, ".."));
    expect(err).toBeInstanceOf(AppError);
    expect(toErrorShape(err)).toMatchObject({ code: "artifact.invalid_name", retryable: false });
  });
});

describe("isSafeSegment", () => {
  it.each(["a", "A1", "billing-api.zip", "run_01jd", "x.y-z_w", "9", "a".repeat(128)])("accepts %j", (s) => {
    expect(isSafeSegment(s)).toBe(true);
  });

  it.each(["", ".", "..", ".hidden", "-dash", "_under", "a..b", "a/b", "a b", "a%2f", "a\u0000", "a".repeat(129), "ü"])(
    "rejects %j",
    (s) => {
      expect(isSafeSegment(s)).toBe(false);
    },
  );
});
