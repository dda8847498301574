/**
 * Decision links decide gates, so they follow the scope that decides (issue 33, finding 4): they
 * never enter the run's events (runs:read), only a key holding approvals:grant is issued them, a
 * webhook endpoint gets them only when such a key flagged it, and the key that created a run
 * neither decides its gates nor obtains their links unless the gate says approvers.allowRequester.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import type { TenantObject } from "../../src/control/tenant/object";
import { withDecisionLinks } from "../../src/webhooks/links";
import { api, createRun, events, newTenantKey } from "../support/api";

afterEach(() => reset());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(get: () => Promise<T | undefined | false>, timeoutMs = 8_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(20)) {
    const value = await get();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { code: string }).code).toBe(code);
}
const keyIdOf = (key: string) => key.split("_")[2]!;
const gated = (approvers?: Record<string, unknown>, key?: string) =>
  createRun(
    {
      project: "p",
      steps: [{ id: "gate", type: "approval", input: { title: "Ship?", ...(approvers ? { approvers } : {}) } }],
    },
    key,
  );
const waiting = (runId: string) =>
  until(async () => {
    const run = (await (await api(`/v1/runs/${runId}`)).json()) as RunView;
    return run.steps[0]!.status === "waiting";
  });
const links = (runId: string, key?: string) =>
  api(`/v1/runs/${runId}/steps/gate/links`, key === undefined ? {} : { key });
const decide = (runId: string, how: "approve" | "reject", key?: string) =>
  api(`/v1/runs/${runId}/steps/gate/${how}`, { method: "POST", json: {}, ...(key ? { key } : {}) });
const redeem = (url: string) => api(url, { method: "POST", key: null });

/** The dev tenant's keys: a reader, and an approver that did not create the runs. */
const keys = async () => ({
  // The dev tenant is made by the dev key's first use.
  made: (await api("/v1/runs")).status,
  reader: await newTenantKey("dev", { scopes: ["runs:read", "runs:write", "webhooks:manage"] }),
  approver: await newTenantKey("dev", { scopes: ["runs:read", "runs:write", "webhooks:manage", "approvals:grant"] }),
});

describe("decision links follow approvals:grant", () => {
  it("never enter the event log; runs:read is refused them; an approver is issued a pair bound to the gate", async () => {
    const { reader, approver } = await keys();
    const run = await gated();
    await waiting(run.id);
    const log = await events(run.id, reader);
    expect(JSON.stringify(log)).not.toContain("/v1/decisions/");
    const waitEvent = log.find((e) => e.type === "step.waiting")!;
    expect(waitEvent.data).toMatchObject({ kind: "approval", links: true, requestedBy: "dev" });
    expect(waitEvent.data).not.toHaveProperty("approveUrl");

    await problem(await links(run.id, reader), 403, "auth.insufficient_scope");
    const issued = await links(run.id, approver);
    expect(issued.status).toBe(200);
    const pair = (await issued.json()) as { approveUrl: string; rejectUrl: string; expiresAt: string };
    expect(pair.approveUrl).toMatch(/^\/v1\/decisions\//);
    expect(Date.parse(pair.expiresAt)).toBe(Date.parse(String(waitEvent.data.expiresAt)));

    const decided = await redeem(pair.approveUrl);
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({
      decision: "approved",
      by: { kind: "link", issuedTo: keyIdOf(approver) },
    });
    await problem(await redeem(pair.approveUrl), 409, "approval.link_used");
    const approved = (await events(run.id)).find((e) => e.type === "step.approved")!;
    expect(approved.data.by).toMatchObject({ kind: "link", issuedTo: keyIdOf(approver) });
  });

  it("the key that created a run neither decides its gates nor obtains their links; allowRequester opts in", async () => {
    const { approver } = await keys();
    const own = await gated(undefined, approver);
    await waiting(own.id);
    await problem(await decide(own.id, "approve", approver), 403, "approval.not_an_approver");
    await problem(await links(own.id, approver), 403, "approval.not_an_approver");
    // Another key holding approvals:grant (here the dev key) decides it.
    expect((await decide(own.id, "approve")).status).toBe(200);

    const allowed = await gated({ allowRequester: true }, approver);
    await waiting(allowed.id);
    const waitEvent = (await events(allowed.id)).find((e) => e.type === "step.waiting")!;
    expect(waitEvent.data).toMatchObject({ links: true });
    expect(waitEvent.data).not.toHaveProperty("requestedBy");
    expect((await links(allowed.id, approver)).status).toBe(200);
    expect((await decide(allowed.id, "reject", approver)).status).toBe(200);
  });

  it("a gate that names its approvers has no links, for anyone", async () => {
    const { approver } = await keys();
    const run = await gated({ keys: [keyIdOf(approver)] });
    await waiting(run.id);
    expect((await events(run.id)).find((e) => e.type === "step.waiting")!.data).not.toHaveProperty("links");
    await problem(await links(run.id, approver), 403, "approval.not_an_approver");
    expect((await decide(run.id, "approve", approver)).status).toBe(200);
  });
});

describe("decision links in webhook deliveries", () => {
  const hook = { url: "https://hooks.example.com/factory", eventTypes: ["step.waiting"] };
  const tenant = () => env.TENANT.getByName("dev");
  /** The attempt the sender would make for the endpoint's delivery of the run's step.waiting. */
  async function sentPayload(endpointId: string, runId: string) {
    const delivery = await until(async () => {
      const res = await api(`/v1/webhooks/${endpointId}/deliveries`);
      const items = ((await res.json()) as { items: { id: string; runId: string }[] }).items;
      return items.find((d) => d.runId === runId);
    });
    const listed = await (await api(`/v1/webhooks/${endpointId}/deliveries`)).text();
    expect(listed).not.toContain("/v1/decisions/");
    const task = await until(
      async () =>
        (await runInDurableObject(tenant(), (object: TenantObject) => object.deliveryTask(delivery.id))) ?? undefined,
    );
    expect(task.payload).not.toContain("/v1/decisions/"); // the stored payload never holds them
    return JSON.parse(withDecisionLinks(task, env, Date.now()).payload) as { data: Record<string, unknown> };
  }

  it("only a key holding approvals:grant may flag an endpoint; only a flagged endpoint's copy carries links", async () => {
    const { reader, approver } = await keys();
    const flag = { ...hook, includeDecisionLinks: true };
    await problem(
      await api("/v1/webhooks", { method: "POST", json: flag, key: reader }),
      403,
      "auth.insufficient_scope",
    );
    const plain = (await (await api("/v1/webhooks", { method: "POST", json: hook, key: reader })).json()) as {
      id: string;
      includeDecisionLinks: boolean;
    };
    expect(plain.includeDecisionLinks).toBe(false);
    await problem(
      await api(`/v1/webhooks/${plain.id}`, { method: "PATCH", json: { includeDecisionLinks: true }, key: reader }),
      403,
      "auth.insufficient_scope",
    );
    const flagged = await api("/v1/webhooks", { method: "POST", json: flag, key: approver });
    expect(flagged.status).toBe(201);
    const flaggedId = ((await flagged.json()) as { id: string; includeDecisionLinks: boolean }).id;
    expect((await (await api(`/v1/webhooks/${flaggedId}`)).json()) as object).toMatchObject({
      includeDecisionLinks: true,
    });

    const run = await gated();
    await waiting(run.id);
    expect((await sentPayload(plain.id, run.id)).data).not.toHaveProperty("approveUrl");
    const sent = (await sentPayload(flaggedId, run.id)).data;
    expect(sent.approveUrl).toMatch(/^\/v1\/decisions\//);
    const decided = await redeem(String(sent.rejectUrl));
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({ decision: "rejected", by: { issuedTo: keyIdOf(approver) } });

    // The flagging key's own run: its endpoint gets no links for it.
    const own = await gated(undefined, approver);
    await waiting(own.id);
    expect((await sentPayload(flaggedId, own.id)).data).not.toHaveProperty("approveUrl");
  });
});
