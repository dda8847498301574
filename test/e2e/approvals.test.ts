/**
 * Approval gates against the real runtime (`wrangler dev`): a gated microservice waits at its gate
 * across a SIGKILL of the runtime and is approved after the restart (its zip downloads); another is
 * rejected through the signed link in a webhook receiver's copy of its step.waiting event. The
 * runs are started by a key of their own: the key that starts a run may not decide its gates.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

type Waiting = { type: string; runId: string; stepId: string; data: { approveUrl?: string; rejectUrl?: string } };

let rt: Runtime;
let receiver: Server;
let secret = "";
/** Starts the gated runs; the dev key (approvals:grant) decides them and flags the endpoint. */
let requester: Runtime;
const received: { verified: boolean; body: Waiting }[] = [];

async function gatedRun(name: string): Promise<string> {
  const res = await requester.fetch("/v1/runs", {
    method: "POST",
    json: { project: "gates", blueprint: "microservice", input: { name, approval: true } },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function until<T>(find: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("condition not met in time");
  }
}

const gateStatus = async (id: string) =>
  ((await (await rt.fetch(`/v1/runs/${id}`)).json()) as { steps: { id: string; status: string }[] }).steps.find(
    (s) => s.id === "approval",
  )?.status;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      let verified = false;
      try {
        new Webhook(secret).verify(text, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ verified, body: JSON.parse(text) as Waiting });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  rt = await startRuntime();
  expect((await rt.fetch("/v1/runs")).status).toBe(200); // makes the dev tenant
  const made = await fetch(`${rt.url}/v1/admin/tenants/dev/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${rt.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "requester", scopes: ["runs:read", "runs:write"] }),
  });
  expect(made.status).toBe(201);
  requester = rt.as(((await made.json()) as { key: string }).key);
  const hook = await rt.fetch("/v1/webhooks", {
    method: "POST",
    json: {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      eventTypes: ["step.waiting", "step.rejected"],
      includeDecisionLinks: true,
    },
  });
  expect(hook.status).toBe(201);
  secret = ((await hook.json()) as { secret: string }).secret;
});

afterAll(async () => {
  await rt?.stop();
  receiver?.close();
});

describe("approval gates in the real runtime", () => {
  it("a gated run waits across a SIGKILL and is approved after the restart; its zip downloads", async () => {
    const id = await gatedRun("killed-api");
    await until(async () => ((await gateStatus(id)) === "waiting" ? true : undefined));
    rt.crash();
    await rt.restart();
    expect(await gateStatus(id)).toBe("waiting");
    const approved = await rt.fetch(`/v1/runs/${id}/steps/approval/approve`, { method: "POST", json: {} });
    expect(approved.status).toBe(200);
    const run = await waitForRun(rt, id);
    expect(run.status).toBe("succeeded");
    const zip = await rt.fetch(`/v1/runs/${id}/artifacts/killed-api.zip`);
    expect(zip.status).toBe(200);
    expect((await zip.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const log = (await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as { items: { type: string }[] };
    expect(log.items.filter((e) => e.type === "step.approved")).toHaveLength(1);
  });

  it("a webhook receiver rejects a gate with the signed link in its copy of step.waiting", async () => {
    const id = await gatedRun("linked-api");
    const delivered = await until(() => received.find((r) => r.body.type === "step.waiting" && r.body.runId === id));
    expect(delivered.verified).toBe(true);
    const rejectUrl = delivered.body.data.rejectUrl!;
    expect(rejectUrl.startsWith(`${rt.url}/v1/decisions/`)).toBe(true);
    // A link scanner's GET decides nothing.
    expect((await fetch(rejectUrl)).status).toBe(200);
    expect(await gateStatus(id)).toBe("waiting");
    const res = await fetch(rejectUrl, { method: "POST" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { decision: string }).decision).toBe("rejected");
    expect((await fetch(rejectUrl, { method: "POST" })).status).toBe(409);
    const run = await waitForRun(rt, id);
    expect(run.status).toBe("failed");
    await until(() => received.find((r) => r.body.type === "step.rejected" && r.body.runId === id));
  });
});
