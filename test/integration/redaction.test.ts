/**
 * Secrets in text fields (issue 33, finding 8): a GitHub token sent in a signal body, a step's
 * output, a failure message, a log line and an approval comment is stored redacted — it never
 * comes back in GET /v1/runs/{id} or its events (webhook bodies are built from those events; the
 * e2e suite follows it to a real receiver) — and a `secret.redacted` event says where.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { StepReport } from "../../schema/run";
import { plantedSecrets } from "../../src/data/jobs/planted";
import { ADMIN_TOKEN, api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const github = plantedSecrets().find((p) => p.ruleId === "@secretlint/secretlint-rule-github")!;
const MARKER = /\[REDACTED @secretlint\/secretlint-rule-github fp_[0-9a-f]{32}\]/;

async function said(runId: string): Promise<string> {
  return [
    await (await api(`/v1/runs/${runId}`)).text(),
    await (await api(`/v1/runs/${runId}/events?limit=1000`)).text(),
  ].join("\n");
}

async function externalWorker() {
  const { token } = (await (
    await api("/v1/admin/pools/external/tokens", { method: "POST", key: ADMIN_TOKEN })
  ).json()) as { token: string };
  const call = (path: string, json: unknown) => api(`/v1/pools/external${path}`, { method: "POST", key: token, json });
  return {
    lease: async () =>
      ((await (await call("/leases", { waitMs: 5_000 })).json()) as { lease: { id: string; stepId: string } }).lease,
    result: (lease: string, json: unknown) => call(`/leases/${lease}/result`, json),
  };
}

type Redacted = { field: string; ruleId: string; fingerprint: string };
const redactions = async (runId: string) =>
  (await events(runId))
    .filter((e) => e.type === "secret.redacted")
    .flatMap((e) => (e.data.redactions as Redacted[]).map((r) => ({ stepId: e.stepId, ...r })));

describe("secrets in text fields are redacted before the run stores them", () => {
  it("a token in a step's output and in a failure message", async () => {
    const worker = await externalWorker();
    const run = await createRun({
      project: "p",
      failurePolicy: "continue",
      steps: [
        { id: "ok", type: "external.task", input: { kind: "noop" } },
        { id: "bad", type: "external.task", input: { kind: "noop" }, dependsOn: ["ok"] },
      ],
    });
    const first = await worker.lease();
    const output = { note: `logged in with ${github.secret}`, nested: [{ token: github.secret }] };
    expect((await worker.result(first.id, { outcome: "succeeded", output })).status).toBe(200);
    const second = await worker.lease();
    const error = { code: "deploy.failed", message: `gh said no to ${github.secret}`, retryable: false };
    expect((await worker.result(second.id, { outcome: "failed", error })).status).toBe(200);
    const done = await waitForRun(run.id);
    const ok = done.steps.find((s) => s.id === "ok")! as unknown as { output: { note: string } };
    expect(ok.output.note).toMatch(MARKER);
    expect(done.steps.find((s) => s.id === "bad")!.error?.message).toMatch(MARKER);
    expect(await said(run.id)).not.toContain(github.secret);
    const where = await redactions(run.id);
    expect(where.map((r) => [r.stepId, r.field, r.ruleId])).toEqual([
      ["ok", "output.note", github.ruleId],
      ["ok", "output.nested[0].token", github.ruleId],
      ["bad", "error.message", github.ruleId],
    ]);
    expect(ok.output.note).toContain(where[0]!.fingerprint);
  });

  it("a token in a log line (the consumer's report)", async () => {
    const worker = await externalWorker();
    const run = await createRun({ project: "p", steps: [{ id: "x", type: "external.task", input: { kind: "noop" } }] });
    await worker.lease();
    // What the queue consumer sends for an attempt that logged: the same RPC, the same object.
    const stub = env.RUN.getByName(run.id) as unknown as { report(r: StepReport): Promise<{ ok: boolean }> };
    const answer = await stub.report({
      stepId: "x",
      attempt: 1,
      outcome: "succeeded",
      output: {},
      artifacts: [],
      logs: [{ level: "info", message: `cloning with ${github.secret}`, fields: { auth: github.secret } }],
    });
    expect(answer.ok).toBe(true);
    await waitForRun(run.id);
    const log = (await events(run.id)).find((e) => e.type === "step.log")!;
    expect(log.data.message).toMatch(MARKER);
    expect(await said(run.id)).not.toContain(github.secret);
    expect((await redactions(run.id)).map((r) => r.field)).toEqual(["logs[0].message", "logs[0].fields.auth"]);
  });

  it("a token in a signal body and in an approval comment", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "wait", type: "signal", input: { name: "deployed" } },
        {
          id: "gate",
          type: "approval",
          input: { title: "Ship?", approvers: { allowRequester: true } },
          dependsOn: ["wait"],
        },
      ],
    });
    const sent = await api(`/v1/runs/${run.id}/signals/deployed`, {
      method: "POST",
      json: { by: "ci", token: github.secret },
    });
    expect(sent.status).toBe(200);
    expect(await sent.text()).not.toContain(github.secret);
    for (let i = 0; i < 100; i++) {
      const steps = ((await (await api(`/v1/runs/${run.id}`)).json()) as { steps: { id: string; status: string }[] })
        .steps;
      if (steps.find((s) => s.id === "gate")!.status === "waiting") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const decided = await api(`/v1/runs/${run.id}/steps/gate/approve`, {
      method: "POST",
      json: { comment: `rotated ${github.secret}` },
    });
    expect(decided.status).toBe(200);
    expect(await decided.text()).not.toContain(github.secret);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    expect(await said(run.id)).not.toContain(github.secret);
    const where = await redactions(run.id);
    expect(where.map((r) => [r.stepId, r.field])).toEqual([
      [undefined, "signals.deployed.body.token"],
      ["gate", "comment"],
    ]);
  });

  it("ordinary text is stored as sent, with no secret.redacted event", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "e", type: "system.echo", input: { msg: "hello" } }] });
    await waitForRun(run.id);
    expect((await events(run.id)).some((e) => e.type === "secret.redacted")).toBe(false);
  });
});

describe("inputs pass the same rules (issue 33)", () => {
  it("a token in a run's input and in a spawned step's input is redacted; a $secret reference stays whole", async () => {
    expect(
      (await api("/v1/secrets/deploy-key", { method: "PUT", json: { value: "not-a-pattern-value" } })).status,
    ).toBe(201);
    const worker = await externalWorker();
    const run = await createRun({
      project: "p",
      steps: [
        {
          id: "x",
          type: "external.task",
          // No $secret here: a step on the external pool may not name one (400 secret.external_pool).
          input: { kind: "noop", payload: { note: `clone with ${github.secret}` } },
        },
      ],
    });
    await worker.lease();
    // A consumer's report of an attempt that spawned a step (the same RPC the queue consumer sends).
    const stub = env.RUN.getByName(run.id) as unknown as { report(r: StepReport): Promise<{ ok: boolean }> };
    const answer = await stub.report({
      stepId: "x",
      attempt: 1,
      outcome: "succeeded",
      output: {},
      artifacts: [],
      spawn: [{ id: "child", type: "system.echo", input: { token: github.secret, key: { $secret: "deploy-key" } } }],
    });
    expect(answer.ok).toBe(true);
    await waitForRun(run.id, { timeoutMs: 60_000 });
    const stored = await runInDurableObject(env.RUN.getByName(run.id), (o) => {
      const store = (o as unknown as { store: { step(id: string): { input: string } | null } }).store;
      return { x: JSON.parse(store.step("x")!.input), child: JSON.parse(store.step("child")!.input) };
    });
    expect(stored.x.payload.note).toMatch(MARKER);
    expect(stored.child.token).toMatch(MARKER);
    expect(stored.child.key).toEqual({ $secret: "deploy-key" });
    expect(JSON.stringify(stored)).not.toContain(github.secret);
    expect(await said(run.id)).not.toContain(github.secret);
    expect((await redactions(run.id)).map((r) => [r.stepId ?? null, r.field, r.ruleId])).toEqual([
      [null, "steps.x.input.payload.note", github.ruleId],
      ["x", "spawn.child.input.token", github.ruleId],
    ]);
  }, 90_000);
});
