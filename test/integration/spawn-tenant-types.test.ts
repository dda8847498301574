/**
 * Spawned steps of a tenant's own job types (issue 27's gap): a step that spawns `acme.lint` gets
 * the version current at spawn, its input checked against that version's schema, and the spawned
 * step is served by the tenant's own pool. The spawning step is leased from the operator's pool and
 * reported straight to the run object, as a built-in job does (the lease API takes no spawn).
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { runStub } from "../../src/control/run/stub";
import { ADMIN_TOKEN, api, createRun, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

interface Lease {
  id: string;
  runId: string;
  stepId: string;
  attempt: number;
  type: string;
  input: Record<string, unknown>;
}

const LINT = {
  name: "acme.lint",
  pool: "linters",
  input: {
    type: "object",
    properties: { file: { type: "string", minLength: 1 } },
    required: ["file"],
    additionalProperties: false,
  },
  output: { type: "object", properties: { problems: { type: "integer" } }, required: ["problems"] },
};

async function ok<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return (text ? JSON.parse(text) : null) as T;
}

async function takeFrom(token: string, pool: string): Promise<Lease> {
  for (;;) {
    const res = await api(`/v1/pools/${pool}/leases`, { method: "POST", key: token, json: { waitMs: 10_000 } });
    if (res.status === 200) return ((await res.json()) as { lease: Lease }).lease;
    expect(res.status).toBe(204);
  }
}

/** A tenant with the `linters` pool (its token returned), `acme.lint` v1, and a running planner step. */
async function planning() {
  const key = await newTenantKey("acme", { scopes: ["runs:read", "runs:write", "workers:manage"] });
  await ok(await api("/v1/pools", { method: "POST", key, json: { name: "linters" } }), 201);
  const token = (await ok<{ token: string }>(await api("/v1/pools/linters/tokens", { method: "POST", key }), 201))
    .token;
  await ok(await api("/v1/job-types", { method: "POST", key, json: LINT }), 201);
  const operator = (
    await ok<{ token: string }>(await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN }), 201)
  ).token;
  const run = await createRun(
    { project: "p", steps: [{ id: "plan", type: "external.task", input: { kind: "plan" } }] },
    key,
  );
  const plan = await takeFrom(operator, "external");
  return { key, token, run, plan };
}

it("a spawned step of a tenant job type pins the version current at spawn and runs on the tenant's pool", async () => {
  const { key, token, run, plan } = await planning();
  // A second version after the run's creation: the spawn, later, pins it.
  await ok(
    await api("/v1/job-types", {
      method: "POST",
      key,
      json: { ...LINT, version: 2, output: { type: "object", required: ["problems", "v2"] } },
    }),
    201,
  );
  const answer = await runStub(env, run.id).report({
    stepId: plan.stepId,
    attempt: plan.attempt,
    outcome: "succeeded",
    output: {},
    artifacts: [],
    spawn: [{ id: "lint-a", type: "acme.lint", input: { file: "a.ts" } }],
  });
  expect(answer).toMatchObject({ ok: true });

  const lint = await takeFrom(token, "linters");
  expect(lint).toMatchObject({ runId: run.id, stepId: "lint-a", type: "acme.lint", input: { file: "a.ts" } });
  // Version 2's output schema is the one checked: v1's output alone does not fit it.
  const invalid = await ok<{ invalidOutput?: unknown }>(
    await api(`/v1/pools/linters/leases/${lint.id}/result`, {
      method: "POST",
      key: token,
      json: { outcome: "succeeded", output: { problems: 0 } },
    }),
    200,
  );
  expect(invalid.invalidOutput).toBeTruthy();
  const done = await waitForRun(run.id, { key });
  expect(done.status).toBe("failed");
  const failed = (await events(run.id, key)).find((e) => e.type === "step.failed" && e.stepId === "lint-a");
  expect(JSON.stringify(failed?.data)).toContain("step.invalid_output");
});

it("a spawned step whose input does not fit the tenant type's schema fails the spawning step, naming the field", async () => {
  const { key, run, plan } = await planning();
  const answer = await runStub(env, run.id).report({
    stepId: plan.stepId,
    attempt: plan.attempt,
    outcome: "succeeded",
    output: {},
    artifacts: [],
    spawn: [{ id: "lint-a", type: "acme.lint", input: { file: "" } }],
  });
  expect(answer).toMatchObject({ ok: true });
  const done = await waitForRun(run.id, { key });
  expect(done.status).toBe("failed");
  const failed = (await events(run.id, key)).find((e) => e.type === "step.failed" && e.stepId === "plan");
  const text = JSON.stringify(failed?.data);
  expect(text).toContain("spawn.invalid");
  expect(text).toContain("steps[0].input.file");
});

it("another tenant's job type is unknown to a spawn", async () => {
  const { run, plan } = await planning();
  // A run of tenant "dev" (the default key) spawning acme's type finds no such type.
  const devRun = await createRun({
    project: "p",
    steps: [{ id: "plan", type: "external.task", input: { kind: "plan" } }],
  });
  const operator = (
    await ok<{ token: string }>(await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN }), 201)
  ).token;
  // The acme run's planner is still leased; release it so the dev run's step is next in line.
  await runStub(env, run.id).report({
    stepId: plan.stepId,
    attempt: plan.attempt,
    outcome: "succeeded",
    output: {},
    artifacts: [],
  });
  const devPlan = await takeFrom(operator, "external");
  expect(devPlan.runId).toBe(devRun.id);
  await runStub(env, devRun.id).report({
    stepId: devPlan.stepId,
    attempt: devPlan.attempt,
    outcome: "succeeded",
    output: {},
    artifacts: [],
    spawn: [{ id: "lint-a", type: "acme.lint", input: { file: "a.ts" } }],
  });
  expect((await waitForRun(devRun.id)).status).toBe("failed");
  const failed = (await events(devRun.id)).find((e) => e.type === "step.failed" && e.stepId === "plan");
  expect(JSON.stringify(failed?.data)).toContain("unknown step type 'acme.lint'");
});
