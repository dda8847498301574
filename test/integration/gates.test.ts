import { abortAllDurableObjects, reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import type { RunStore } from "../../src/control/run/store";
import { signLink } from "../../src/lib/decision-links";
import { api, createRun, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const get = async (id: string, key?: string) =>
  (await (await api(`/v1/runs/${id}`, key ? { key } : {})).json()) as RunView;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(done: () => Promise<boolean>, timeoutMs = 8_000) {
  for (const deadline = Date.now() + timeoutMs; !(await done()); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}
const stepStatus = async (runId: string, stepId: string, key?: string) =>
  (await get(runId, key)).steps.find((s) => s.id === stepId)!.status;
const waitingAt = (runId: string, stepId: string, key?: string) =>
  until(async () => (await stepStatus(runId, stepId, key)) === "waiting");

const decide = (runId: string, stepId: string, how: "approve" | "reject", json: unknown = {}, key?: string) =>
  api(`/v1/runs/${runId}/steps/${stepId}/${how}`, { method: "POST", json, ...(key ? { key } : {}) });
const signal = (runId: string, name: string, json: unknown, key?: string) =>
  api(`/v1/runs/${runId}/signals/${name}`, { method: "POST", json, ...(key ? { key } : {}) });
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

/**
 * A gated run. These tests decide with the key that created the run (the dev key), which a gate
 * refuses unless it says `allowRequester` (test/integration/decision-links.test.ts tests the default).
 */
const gated = (gate: Record<string, unknown> = {}) => ({
  project: "p",
  steps: [
    { id: "build", type: "system.echo", input: { built: true } },
    {
      id: "gate",
      type: "approval",
      input: {
        title: "Publish?",
        ...gate,
        approvers: { allowRequester: true, ...(gate.approvers as Record<string, unknown> | undefined) },
      },
      dependsOn: ["build"],
    },
    { id: "publish", type: "system.echo", input: {}, dependsOn: ["gate"] },
  ],
});

/** Moves a step's wait timer to now and runs the object's alarm. */
async function expireWait(runId: string, stepId: string) {
  const stub = env.RUN.getByName(runId);
  await runInDurableObject(stub, (object, state) => {
    const store = (object as unknown as { store: RunStore }).store;
    state.storage.transactionSync(() => {
      store.setTimer("wait", stepId, 0);
      store.commit();
    });
  });
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

describe("approval gates", () => {
  it("waits without an attempt, is approved once, and the run goes on", async () => {
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    const waiting = (await get(run.id)).steps.find((s) => s.id === "gate")!;
    expect(waiting).toMatchObject({ pool: "control", attempts: 0 });
    const waitEvent = (await events(run.id)).find((e) => e.type === "step.waiting")!;
    expect(waitEvent).toMatchObject({ stepId: "gate", data: { kind: "approval", title: "Publish?" } });

    const first = await decide(run.id, "gate", "approve", { comment: "ship it" });
    expect(first.status).toBe(200);
    const decision = (await first.json()) as Record<string, unknown>;
    expect(decision).toMatchObject({
      decision: "approved",
      comment: "ship it",
      repeated: false,
      by: { kind: "key", keyId: "dev" },
    });
    // The same decision again: the recorded one. The opposite: refused.
    const again = await decide(run.id, "gate", "approve", {});
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ decision: "approved", comment: "ship it", repeated: true });
    await problem(await decide(run.id, "gate", "reject"), 409, "approval.already_decided");

    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps.find((s) => s.id === "gate")!.output).toMatchObject({
      decision: "approved",
      comment: "ship it",
      by: { kind: "key" },
    });
    const log = await events(run.id);
    expect(log.filter((e) => e.type === "step.approved")).toHaveLength(1);
    expect(log.filter((e) => e.stepId === "gate" && e.type === "step.queued")).toHaveLength(0);
  });

  it("a rejection fails the step non-retryably and the run's failure policy applies", async () => {
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    expect((await decide(run.id, "gate", "reject", { comment: "not today" })).status).toBe(200);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    const gate = done.steps.find((s) => s.id === "gate")!;
    expect(gate.status).toBe("failed");
    expect(gate.error).toMatchObject({ code: "approval.rejected", retryable: false });
    expect(done.steps.find((s) => s.id === "publish")!.status).toBe("skipped");
    expect((await events(run.id)).find((e) => e.type === "step.rejected")?.data).toMatchObject({
      comment: "not today",
    });
  });

  it("deciding a gate that is not waiting, or a step that is no gate, is refused", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "slow", type: "system.sleep", input: { ms: 5_000 } },
        {
          id: "gate",
          type: "approval",
          input: { title: "t", approvers: { allowRequester: true } },
          dependsOn: ["slow"],
        },
      ],
    });
    await problem(await decide(run.id, "gate", "approve"), 409, "approval.not_pending");
    await problem(await decide(run.id, "slow", "approve"), 404, "approval.not_found");
    await problem(await decide(run.id, "nope", "approve"), 404, "approval.not_found");
    await problem(await decide("run_00000000000000000000000000", "gate", "approve"), 404, "run.not_found");
    await api(`/v1/runs/${run.id}/cancel`, { method: "POST" });
  });

  it("bad bodies are 400 problems and change nothing", async () => {
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    await problem(await decide(run.id, "gate", "approve", { comment: "x", extra: 1 }), 400, "request.invalid");
    await problem(await decide(run.id, "gate", "approve", { comment: "x".repeat(2001) }), 400, "request.invalid");
    expect(await stepStatus(run.id, "gate")).toBe("waiting");
    expect((await decide(run.id, "gate", "approve")).status).toBe(200);
  });

  it("needs approvals:grant: runs:write alone is 403, and keys created without scopes lack it", async () => {
    const writer = await newTenantKey("gate-acme", { scopes: ["runs:read", "runs:write"] });
    const plain = await newTenantKey("gate-acme");
    const granter = await newTenantKey("gate-acme", {
      name: "release-manager",
      scopes: ["runs:read", "approvals:grant"],
    });
    const run = await createRun(gated(), writer);
    await waitingAt(run.id, "gate", writer);
    await problem(await decide(run.id, "gate", "approve", {}, writer), 403, "auth.insufficient_scope");
    await problem(await decide(run.id, "gate", "approve", {}, plain), 403, "auth.insufficient_scope");
    const ok = await decide(run.id, "gate", "approve", {}, granter);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ by: { kind: "key", name: "release-manager" } });
    // Another tenant's run is not found, even for a key that may decide.
    await problem(await decide(run.id, "gate", "approve"), 404, "run.not_found");
  });

  it("approvers: only the named keys may decide", async () => {
    const boss = await newTenantKey("gate-initech", { scopes: ["runs:read", "runs:write", "approvals:grant"] });
    const other = await newTenantKey("gate-initech", { scopes: ["runs:read", "approvals:grant"] });
    const bossId = boss.split("_")[2]!;
    const run = await createRun(gated({ approvers: { keys: [bossId] } }), boss);
    await waitingAt(run.id, "gate", boss);
    await problem(await decide(run.id, "gate", "approve", {}, other), 403, "approval.not_an_approver");
    expect((await decide(run.id, "gate", "approve", {}, boss)).status).toBe(200);
  });

  it("50 concurrent approvals of one gate make one decision", async () => {
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => decide(run.id, "gate", "approve", { comment: `c${i}` })),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { repeated: boolean; comment: string }[];
    expect(bodies.filter((b) => !b.repeated)).toHaveLength(1);
    expect(new Set(bodies.map((b) => b.comment)).size).toBe(1);
    await waitForRun(run.id);
    expect((await events(run.id)).filter((e) => e.type === "step.approved")).toHaveLength(1);
  });

  it("a timeout decides with onTimeout; a decision racing it gets exactly one outcome", async () => {
    for (const [onTimeout, status, code] of [
      ["approve", "succeeded", null],
      ["reject", "failed", "approval.rejected"],
      ["fail", "failed", "approval.expired"],
    ] as const) {
      const run = await createRun(gated({ timeoutMs: 3_600_000, onTimeout }));
      await waitingAt(run.id, "gate");
      await expireWait(run.id, "gate");
      const done = await waitForRun(run.id);
      expect(done.status).toBe(status);
      const gate = done.steps.find((s) => s.id === "gate")!;
      if (code) expect(gate.error?.code).toBe(code);
      const log = await events(run.id);
      expect(log.filter((e) => e.type === "step.approval_expired")).toHaveLength(1);
      // Too late: whatever the timeout decided stands.
      const late = await decide(run.id, "gate", "approve");
      if (onTimeout === "approve") expect(late.status).toBe(200);
      else await problem(late, 409, onTimeout === "reject" ? "approval.already_decided" : "approval.not_pending");
    }
    // The race: a decision and the due timer together.
    const run = await createRun(gated({ timeoutMs: 3_600_000, onTimeout: "reject" }));
    await waitingAt(run.id, "gate");
    const [answer] = await Promise.all([decide(run.id, "gate", "approve"), expireWait(run.id, "gate").catch(() => {})]);
    const done = await waitForRun(run.id);
    const log = await events(run.id);
    const outcomes = log.filter((e) => ["step.approved", "step.approval_expired"].includes(e.type));
    expect(outcomes).toHaveLength(1);
    expect(done.status).toBe(answer.status === 200 ? "succeeded" : "failed");
  });

  it("a run cancelled while waiting: the gate is cancelled, later decisions get 409", async () => {
    const run = await createRun(gated({ timeoutMs: 3_600_000 }));
    await waitingAt(run.id, "gate");
    expect((await api(`/v1/runs/${run.id}/cancel`, { method: "POST" })).status).toBe(200);
    const done = await get(run.id);
    expect(done.status).toBe("cancelled");
    expect(done.steps.find((s) => s.id === "gate")!.status).toBe("cancelled");
    await problem(await decide(run.id, "gate", "approve"), 409, "approval.not_pending");
  });

  it("a paused run keeps waiting; a decision while paused lets resume go on", async () => {
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    expect((await api(`/v1/runs/${run.id}/pause`, { method: "POST" })).status).toBe(200);
    expect((await decide(run.id, "gate", "approve")).status).toBe(200);
    await sleep(100);
    const held = await get(run.id);
    expect(held.status).toBe("paused");
    expect(held.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "pending"]);
    await api(`/v1/runs/${run.id}/resume`, { method: "POST" });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });

  it("survives every object being aborted while it waits, and its timeout row with it", async () => {
    const run = await createRun(gated({ timeoutMs: 3_600_000 }));
    await waitingAt(run.id, "gate");
    await abortAllDurableObjects();
    await abortAllDurableObjects();
    expect(await stepStatus(run.id, "gate")).toBe("waiting");
    await runInDurableObject(env.RUN.getByName(run.id), (_o, state) => {
      const rows = state.storage.sql.exec("SELECT kind, ref FROM timer WHERE kind = 'wait'").toArray();
      expect(rows).toEqual([{ kind: "wait", ref: "gate" }]);
    });
    await abortAllDurableObjects();
    expect((await decide(run.id, "gate", "approve")).status).toBe(200);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });
});

describe("what waiting costs", () => {
  it("metrics count pending gates and decided gates' wait; a run's usage keeps waiting apart from execution", async () => {
    type M = { approvals: { pending: number; decided: number; waitMs: { p50: number | null; p95: number | null } } };
    const metrics = async () => ((await (await api("/v1/metrics")).json()) as M).approvals;
    const run = await createRun(gated());
    await waitingAt(run.id, "gate");
    await until(async () => (await metrics()).pending === 1);
    await sleep(300);
    await decide(run.id, "gate", "approve");
    await waitForRun(run.id);
    await until(async () => (await metrics()).decided === 1);
    const m = await metrics();
    expect(m.pending).toBe(0);
    expect(m.waitMs.p50).toBeGreaterThanOrEqual(300);
    type U = { waitingMs: number; wallMs: number; attempts: number; pools: Record<string, unknown> };
    const usage = (await (await api(`/v1/runs/${run.id}/usage`)).json()) as U;
    expect(usage.waitingMs).toBeGreaterThanOrEqual(300);
    expect(usage.wallMs).toBeLessThan(usage.waitingMs); // the two echo steps ran in far less
    expect(usage.attempts).toBe(2); // the gate spent none
    expect(usage.pools).not.toHaveProperty("control");
  });
});

describe("signals", () => {
  const waiting = (input: Record<string, unknown> = {}) => ({
    project: "p",
    steps: [
      { id: "wait", type: "signal", input: { name: "build-done", ...input } },
      { id: "after", type: "system.echo", input: {}, dependsOn: ["wait"] },
    ],
  });

  it("a signal's body becomes the waiting step's output", async () => {
    const run = await createRun(waiting());
    await waitingAt(run.id, "wait");
    const sent = await signal(run.id, "build-done", { ok: true, build: 42 });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ name: "build-done", consumedBy: ["wait"], repeated: false });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.output).toEqual({ ok: true, build: 42 });
    expect((await events(run.id)).find((e) => e.type === "step.signal_received")?.data).toMatchObject({
      name: "build-done",
      by: { kind: "key" },
    });
  });

  it("a signal sent before its step waits is kept and consumed when it does", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "first", type: "system.sleep", input: { ms: 300 } },
        { id: "wait", type: "signal", input: { name: "go" }, dependsOn: ["first"] },
      ],
    });
    const sent = await signal(run.id, "go", { early: true });
    expect(await sent.json()).toMatchObject({ consumedBy: [] });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[1]!.output).toEqual({ early: true });
  });

  it("the first body wins: the same again is 200, another is 409; a finished run is 409 run.finished", async () => {
    const run = await createRun(waiting());
    await waitingAt(run.id, "wait");
    expect((await signal(run.id, "build-done", { n: 1 })).status).toBe(200);
    const same = await signal(run.id, "build-done", { n: 1 });
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ repeated: true });
    await problem(await signal(run.id, "build-done", { n: 2 }), 409, "signal.already_received");
    await waitForRun(run.id);
    await problem(await signal(run.id, "never-waited-for", { n: 1 }), 409, "run.finished");
  });

  it("checks the body against the step's schema and its size; bad input changes nothing", async () => {
    const run = await createRun(
      waiting({ schema: { type: "object", required: ["status"], properties: { status: { enum: ["green", "red"] } } } }),
    );
    await waitingAt(run.id, "wait");
    await problem(await signal(run.id, "build-done", { status: "blue" }), 422, "signal.invalid_body");
    await problem(await signal(run.id, "build-done", { other: 1 }), 422, "signal.invalid_body");
    await problem(await signal(run.id, "build-done", { status: "x".repeat(70_000) }), 413, "signal.too_large");
    await problem(await signal(run.id, "bad name!", {}), 400, "request.invalid");
    expect(await stepStatus(run.id, "wait")).toBe("waiting");
    expect((await signal(run.id, "build-done", { status: "green" })).status).toBe(200);
    expect((await waitForRun(run.id)).status).toBe("succeeded");
  });

  it("times out as a non-retryable failure", async () => {
    const run = await createRun(waiting({ timeoutMs: 60_000 }));
    await waitingAt(run.id, "wait");
    await expireWait(run.id, "wait");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    expect(done.steps[0]!.error).toMatchObject({ code: "signal.timed_out", retryable: false });
  });

  it("another tenant's run is 404", async () => {
    const other = await newTenantKey("signal-other");
    const run = await createRun(waiting());
    await problem(await signal(run.id, "build-done", {}, other), 404, "run.not_found");
    await api(`/v1/runs/${run.id}/cancel`, { method: "POST" });
  });
});

describe("GET /v1/approvals", () => {
  it("lists pending gates oldest first, across runs, then decided ones; cursor-paged and by project", async () => {
    const a = await createRun({ ...gated(), project: "alpha" });
    await waitingAt(a.id, "gate");
    const b = await createRun({ ...gated(), project: "beta" });
    await waitingAt(b.id, "gate");
    type Page = {
      items: { runId: string; status: string; project: string; title: string }[];
      nextCursor: string | null;
    };
    const list = async (q: string) => (await (await api(`/v1/approvals?${q}`)).json()) as Page;
    await until(async () => (await list("status=pending")).items.length === 2);
    const pending = await list("status=pending");
    expect(pending.items.map((i) => i.runId)).toEqual([a.id, b.id]);
    expect(pending.items[0]).toMatchObject({ project: "alpha", title: "Publish?", status: "pending" });
    const first = await list("status=pending&limit=1");
    expect(first.items.map((i) => i.runId)).toEqual([a.id]);
    const second = await list(`status=pending&limit=1&cursor=${first.nextCursor}`);
    expect(second.items.map((i) => i.runId)).toEqual([b.id]);
    expect(second.nextCursor).toBeNull();
    expect((await list("project=beta")).items.map((i) => i.runId)).toEqual([b.id]);

    await decide(a.id, "gate", "approve", { comment: "ok" });
    await api(`/v1/runs/${b.id}/cancel`, { method: "POST" });
    await until(async () => (await list("status=decided")).items.length === 2, 10_000);
    const decided = await list("status=decided");
    expect(Object.fromEntries(decided.items.map((i) => [i.runId, i.status]))).toEqual({
      [a.id]: "approved",
      [b.id]: "cancelled",
    });
    expect((await list("status=pending")).items).toEqual([]);
    await problem(await api("/v1/approvals?cursor=garbage"), 400, "request.invalid");
  });
});

describe("signed decision links", () => {
  const SECRET = env.DECISION_LINK_SECRET!;
  const links = async (runId: string) => {
    await waitingAt(runId, "gate");
    const res = await api(`/v1/runs/${runId}/steps/gate/links`);
    const data = (await res.json()) as { approveUrl: string; rejectUrl: string };
    return { approve: data.approveUrl, reject: data.rejectUrl };
  };
  const post = (url: string, headers: Record<string, string> = {}) => api(url, { method: "POST", key: null, headers });

  it("a gate's links (GET …/links): GET only shows a page, POST decides once", async () => {
    const run = await createRun(gated());
    const { approve, reject } = await links(run.id);
    expect(approve).toMatch(/^\/v1\/decisions\/[\w-]+\.[\w-]+$/);
    expect(reject).not.toBe(approve);

    const page = await api(approve, { key: null });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('<form method="post">');
    expect(await stepStatus(run.id, "gate")).toBe("waiting"); // a link scanner decides nothing

    const decided = await post(approve);
    expect(decided.status).toBe(200);
    const body = (await decided.json()) as { decision: string; by: { kind: string; linkId: string } };
    expect(body).toMatchObject({ decision: "approved", by: { kind: "link" } });
    await problem(await post(approve), 409, "approval.link_used");
    await problem(await post(reject), 409, "approval.already_decided");
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const approved = (await events(run.id)).filter((e) => e.type === "step.approved");
    expect(approved).toHaveLength(1);
    expect(approved[0]!.data.by).toEqual({ kind: "link", linkId: body.by.linkId, issuedTo: "dev" });
  });

  it("a rejection by link fails the gate; a browser's form post gets a page", async () => {
    const run = await createRun(gated());
    const { reject } = await links(run.id);
    const res = await post(reject, { accept: "text/html" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Rejected.");
    const done = await waitForRun(run.id);
    expect(done.steps.find((s) => s.id === "gate")!.error?.code).toBe("approval.rejected");
  });

  it("tampered, expired, foreign or cross-tenant links never decide", async () => {
    const run = await createRun(gated());
    const { approve } = await links(run.id);
    const token = approve.split("/").pop()!;
    const flipped = `${token.slice(0, 10)}${token[10] === "A" ? "B" : "A"}${token.slice(11)}`;
    await problem(await post(`/v1/decisions/${flipped}`), 404, "approval.link_invalid");
    await problem(await post("/v1/decisions/not-a-token"), 404, "approval.link_invalid");
    const claims = { tenantId: "dev", runId: run.id, stepId: "gate", decision: "approve" as const, linkId: "lnk_x" };
    await problem(
      await post(`/v1/decisions/${signLink("another-secret", { ...claims, expiresAt: Date.now() + 60_000 })}`),
      404,
      "approval.link_invalid",
    );
    await problem(
      await post(`/v1/decisions/${signLink(SECRET, { ...claims, expiresAt: Date.now() - 1 })}`),
      410,
      "approval.link_expired",
    );
    // A link signed for tenant A, naming tenant B's run: not found.
    const otherKey = await newTenantKey("link-other");
    const theirs = await createRun(gated(), otherKey);
    await waitingAt(theirs.id, "gate", otherKey);
    await problem(
      await post(`/v1/decisions/${signLink(SECRET, { ...claims, runId: theirs.id, expiresAt: Date.now() + 60_000 })}`),
      404,
      "approval.link_invalid",
    );
    expect(await stepStatus(theirs.id, "gate", otherKey)).toBe("waiting");
    expect(await stepStatus(run.id, "gate")).toBe("waiting");
  });

  it("a gate with named approvers has no links", async () => {
    const run = await createRun(gated({ approvers: { keys: ["dev"] } }));
    await waitingAt(run.id, "gate");
    const data = (await events(run.id)).find((e) => e.type === "step.waiting")!.data;
    expect(data).not.toHaveProperty("links");
    await problem(await api(`/v1/runs/${run.id}/steps/gate/links`), 403, "approval.not_an_approver");
    expect((await decide(run.id, "gate", "approve")).status).toBe(200);
  });
});
