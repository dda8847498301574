import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callbackUrl } from "../../src/lib/decision-links";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const waiting = (timeoutMs?: number) => ({
  project: "p",
  steps: [
    {
      id: "wait",
      type: "signal",
      input: { name: "build", schema: { type: "object", required: ["status"] }, ...(timeoutMs ? { timeoutMs } : {}) },
    },
  ],
});
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function callbackOf(runId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const e = (await events(runId)).find((x) => x.type === "step.waiting");
    if (e) return (e.data as { callbackUrl: string }).callbackUrl;
    await pause(20);
  }
  throw new Error("the step never waited");
}
/** POSTs to a callback URL with no API key at all. */
const post = (url: string, body: unknown) =>
  api(new URL(url, "http://x").pathname, { method: "POST", json: body, key: null });
async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

describe("callback URLs", () => {
  it("a waiting signal step's step.waiting carries a callbackUrl; POST with no key completes it, once", async () => {
    const run = await createRun(waiting(3_600_000));
    const url = await callbackOf(run.id);
    expect(url).toMatch(/\/v1\/callbacks\/[\w-]+\.[\w-]+$/);
    await problem(await post(url, { nope: 1 }), 422, "signal.invalid_body");
    const first = await post(url, { status: "green" });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ name: "build", repeated: false });
    expect((await post(url, { status: "green" })).status).toBe(200);
    await problem(await post(url, { status: "red" }), 409, "signal.already_received");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.output).toEqual({ status: "green" });
  });

  it("tampered, expired, or another tenant's callback URLs are 404/410, never a 5xx", async () => {
    const run = await createRun(waiting());
    const url = await callbackOf(run.id);
    const path = new URL(url, "http://x").pathname;
    const tampered = `${path.slice(0, -3)}${path.endsWith("A") ? "B" : "A"}xy`;
    await problem(await api(tampered, { method: "POST", json: { status: "x" }, key: null }), 404, "callback.invalid");
    await problem(await api("/v1/callbacks/garbage", { method: "POST", json: {}, key: null }), 404, "callback.invalid");
    const secret = env.DECISION_LINK_SECRET!;
    const claims = { tenantId: "dev", runId: run.id, stepId: "wait", name: "build" };
    await problem(
      await post(callbackUrl(secret, "", { ...claims, expiresAt: Date.now() - 1 }), { status: "x" }),
      410,
      "callback.expired",
    );
    const foreign = callbackUrl(secret, "", { ...claims, tenantId: "someone-else", expiresAt: Date.now() + 60_000 });
    await problem(await post(foreign, { status: "x" }), 404, "callback.invalid");
    await api(`/v1/runs/${run.id}/cancel`, { method: "POST" });
  });
});
