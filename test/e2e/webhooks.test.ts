import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../../schema/webhooks";
import { startDohServer, type DohServer } from "./support/doh";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

interface Received {
  id: string;
  verified: boolean;
  body: { eventId: string; type: string; runId: string; traceId: string };
  status: number;
  traceparent: string | undefined;
}

let rt: Runtime;
let doh: DohServer;
let receiver: Server;
let receiverUrl = "";
const secrets: string[] = [];
const received: Received[] = [];
let failFirst = 3;

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => resolve(text));
  });

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    const payload = await readBody(req);
    // The official Standard Webhooks library verifies, not our code.
    const verified = secrets.some((secret) => {
      try {
        new Webhook(secret).verify(payload, req.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    });
    const status = failFirst-- > 0 ? 503 : verified ? 204 : 401;
    received.push({
      id: String(req.headers["webhook-id"]),
      verified,
      body: JSON.parse(payload),
      status,
      traceparent: req.headers.traceparent as string | undefined,
    });
    res.writeHead(status, status === 503 ? { "retry-after": "0" } : {}).end(status === 503 ? "try later" : "");
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  // Host names resolve with this real DoH server on loopback (names under our control), not the internet.
  doh = await startDohServer({});
  rt = await startRuntime({ WEBHOOK_SCHEDULE_MS: "200,400,800,1600,3200", DOH_URL: doh.url });
});

afterAll(async () => {
  await rt?.stop();
  receiver?.close();
  await doh?.close();
});

describe("webhooks against a real receiver", () => {
  it("every event of a run arrives, signed and verified, despite the receiver failing at first", async () => {
    const created = await rt.fetch("/v1/webhooks", {
      method: "POST",
      json: { url: receiverUrl, eventTypes: ["*"], project: "hooks" },
    });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; secret: string };
    secrets.push(endpoint.secret);
    expect(endpoint.secret).toMatch(/^whsec_/);

    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      json: {
        project: "hooks",
        steps: [
          { id: "a", type: "system.echo", input: {} },
          { id: "b", type: "system.fail", input: { times: 1 }, dependsOn: ["a"] },
          { id: "c", type: "system.echo", dependsOn: ["b"] },
        ],
      },
    });
    const { id } = (await res.json()) as { id: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");

    const log = (
      (await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as {
        items: { eventId: string; type: string }[];
      }
    ).items;
    const expected = log
      .filter((e) => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(e.type))
      .map((e) => e.eventId);
    expect(expected.length).toBeGreaterThan(8);

    const deadline = Date.now() + 20_000;
    const delivered = () => new Set(received.filter((r) => r.verified && r.status === 204).map((r) => r.id));
    while (Date.now() < deadline && !expected.every((e) => delivered().has(e)))
      await new Promise((r) => setTimeout(r, 100));

    expect([...delivered()].sort()).toEqual([...expected].sort()); // none lost, none foreign
    expect(received.every((r) => r.verified)).toBe(true);
    expect(received.every((r) => r.body.eventId === r.id && r.body.runId === id)).toBe(true);
    // The caller's trace runs through the run and into every callback.
    expect(received.every((r) => r.body.traceId === traceId && r.traceparent?.startsWith(`00-${traceId}-`))).toBe(true);
    expect(received.filter((r) => r.status === 503)).toHaveLength(3); // the failures were real…

    // …and the delivery log shows them, then the success.
    const failedOnce = received.find((r) => r.status === 503)!.id;
    const deliveries = (
      (await (await rt.fetch(`/v1/webhooks/${endpoint.id}/deliveries?eventId=${failedOnce}`)).json()) as {
        items: { status: string; attempts: { statusCode: number; excerpt: string | null }[] }[];
      }
    ).items;
    expect(deliveries[0]!.status).toBe("succeeded");
    expect(deliveries[0]!.attempts[0]).toMatchObject({ statusCode: 503, excerpt: "try later" });
    expect(deliveries[0]!.attempts.at(-1)!.statusCode).toBe(204);
  });

  it("a run's own callback URL hears that run's run.* events, signed with the secret returned at creation", async () => {
    const res = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "elsewhere",
        callback: { url: `${receiverUrl}?run=own` },
        steps: [{ id: "a", type: "system.echo", input: {} }],
      },
    });
    const run = (await res.json()) as { id: string; callback: { endpointId: string; secret: string } };
    expect(run.callback.secret).toMatch(/^whsec_/);
    secrets.push(run.callback.secret);
    expect((await waitForRun(rt, run.id)).status).toBe("succeeded");
    const deadline = Date.now() + 10_000;
    const mine = () =>
      received.filter((r) => r.body.runId === run.id && r.verified && r.status === 204).map((r) => r.body.type);
    const expected = ["run.queued", "run.requested", "run.started", "run.succeeded", "run.validated"];
    // The first events can reach the receiver before this test has the secret: they are refused
    // (401) and retried, which is the delivery machinery doing its job.
    while (Date.now() < deadline && new Set(mine()).size < expected.length)
      await new Promise((r) => setTimeout(r, 100));
    expect([...new Set(mine())].sort()).toEqual(expected);
    const bad = await rt.fetch("/v1/runs", {
      method: "POST",
      json: {
        project: "p",
        callback: { url: "https://10.1.2.3/" },
        steps: [{ id: "a", type: "system.echo", input: {} }],
      },
    });
    expect(bad.status).toBe(400);
  });

  it("refuses an endpoint URL that points inside the network", async () => {
    for (const url of ["http://10.0.0.1/x", "https://169.254.169.254/", "http://[::ffff:7f00:1]:80/"]) {
      const res = await rt.fetch("/v1/webhooks", { method: "POST", json: { url, eventTypes: ["run.*"] } });
      expect(res.status, url).toBe(400);
    }
  });

  it("resolves names with DOH_URL: loopback is refused at registration, and a name rebound to loopback is refused at delivery", async () => {
    doh.set("loopback.example.com", { a: ["127.0.0.1"] });
    const refused = await rt.fetch("/v1/webhooks", {
      method: "POST",
      json: { url: "https://loopback.example.com/", eventTypes: ["run.*"] },
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: unknown[] }).errors).toEqual([
      { path: "url", message: "loopback.example.com resolves to 127.0.0.1, a private or reserved address" },
    ]);

    doh.set("rebind.example.com", { a: ["93.184.215.14"], ttl: 1 });
    const created = await rt.fetch("/v1/webhooks", {
      method: "POST",
      json: { url: "https://Rebind.EXAMPLE.com./hook", eventTypes: ["run.succeeded"], project: "rebind" },
    });
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string; url: string };
    expect(endpoint.url).toBe("https://rebind.example.com/hook"); // stored canonical
    expect(doh.queries("rebind.example.com")).toBe(2); // A and AAAA, from the Worker

    // The attacker's name now answers loopback; the Worker's cached answer lives for its TTL (1 s).
    doh.set("rebind.example.com", { a: ["127.0.0.1"], ttl: 1 });
    await new Promise((r) => setTimeout(r, 1_200));
    const res = await rt.fetch("/v1/runs", {
      method: "POST",
      json: { project: "rebind", steps: [{ id: "a", type: "system.echo", input: {} }] },
    });
    const { id } = (await res.json()) as { id: string };
    expect((await waitForRun(rt, id)).status).toBe("succeeded");

    type Delivery = { status: string; attempts: { statusCode: number | null; error: string | null }[] };
    const deliveries = async () =>
      ((await (await rt.fetch(`/v1/webhooks/${endpoint.id}/deliveries`)).json()) as { items: Delivery[] }).items;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await deliveries())[0]?.status !== "failed")
      await new Promise((r) => setTimeout(r, 200));
    const [delivery, ...others] = await deliveries();
    expect(others).toEqual([]);
    expect(delivery!.status).toBe("failed"); // every attempt of the schedule refused, none sent
    expect(delivery!.attempts).toHaveLength(6);
    for (const attempt of delivery!.attempts) {
      expect(attempt).toMatchObject({
        statusCode: null,
        error: "refused URL: rebind.example.com resolves to 127.0.0.1, a private or reserved address",
      });
    }
  });
});
