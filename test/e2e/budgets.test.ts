import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

interface Received {
  verified: boolean;
  body: { eventId: string; type: string; tenantId: string; data: { threshold: number; project: string | null } };
}

let rt: Runtime;
let receiver: Server;
let receiverUrl = "";
let secret = "";
const received: Received[] = [];

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => resolve(text));
  });

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    const payload = await readBody(req);
    let verified = false;
    try {
      new Webhook(secret).verify(payload, req.headers as Record<string, string>);
      verified = true;
    } catch {
      verified = false;
    }
    received.push({ verified, body: JSON.parse(payload) });
    res.writeHead(verified ? 204 : 401).end();
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/budget`;
  rt = await startRuntime();
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  receiver?.close();
});

it("a tenant with a $0.01 budget and block is refused 429 budget.exceeded once spent, its receiver having verified each threshold event", async () => {
  const admin = { authorization: `Bearer ${rt.adminToken}` };
  expect(
    (await rt.fetch("/v1/admin/tenants", { method: "POST", headers: admin, json: { id: "spender", name: "Spender" } }))
      .status,
  ).toBe(201);
  const { key } = (await (
    await rt.fetch("/v1/admin/tenants/spender/keys", { method: "POST", headers: admin, json: {} })
  ).json()) as {
    key: string;
  };
  const spender = rt.as(key);
  const set = await rt.fetch("/v1/admin/tenants/spender/budgets", {
    method: "PUT",
    headers: admin,
    json: { monthlyUsd: 0.01, thresholds: [0.5, 0.8, 1], onExceeded: "block" },
  });
  expect(set.status).toBe(200);
  const hook = await spender.fetch("/v1/webhooks", {
    method: "POST",
    json: { url: receiverUrl, eventTypes: ["budget.*"] },
  });
  expect(hook.status).toBe(201);
  secret = ((await hook.json()) as { secret: string }).secret;

  // Each run: one agent step whose 24,000-character prompt is 6,000 tokens in, about $0.003.
  const costly = {
    project: "p",
    steps: [{ id: "gen", type: "agent.generate", input: { prompt: "x".repeat(24_000), maxTokens: 16 } }],
  };
  let refused: Response | null = null;
  for (let i = 0; i < 6 && !refused; i++) {
    const res = await spender.fetch("/v1/runs", { method: "POST", json: costly });
    if (res.status === 429) {
      refused = res;
      break;
    }
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await waitForRun(spender, id)).status).toBe("succeeded");
    // The run's cost reaches its tenant with its final sync, just after it ends.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const b = (await (await spender.fetch("/v1/budgets")).json()) as { tenant: { spentUsd: number } };
      if (b.tenant.spentUsd >= 0.0029 * (i + 1)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  expect(refused?.status).toBe(429);
  const problem = (await refused!.json()) as {
    code: string;
    budget: { limitUsd: number; spentUsd: number; project: null };
  };
  expect(problem.code).toBe("budget.exceeded");
  expect(problem.budget).toMatchObject({ limitUsd: 0.01, project: null });
  expect(problem.budget.spentUsd).toBeGreaterThanOrEqual(0.01);

  // Every threshold once, each signed and verified by the receiver with the Standard Webhooks library.
  for (const deadline = Date.now() + 15_000; received.length < 3 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 50));
  expect(received.every((r) => r.verified)).toBe(true);
  expect(received.map((r) => [r.body.type, r.body.tenantId, r.body.data.threshold]).sort()).toEqual([
    ["budget.threshold_crossed", "spender", 0.5],
    ["budget.threshold_crossed", "spender", 0.8],
    ["budget.threshold_crossed", "spender", 1],
  ]);
}, 90_000);
