import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunObject } from "../../src/control/run/object";
import type { TenantObject } from "../../src/control/tenant/object";
import { WEBHOOK_EVENT_TYPES } from "../../schema/webhooks";
import type { DeliveryPolicy } from "../../schema/webhooks";
import { WebhookBook } from "../../src/control/tenant/webhooks";
import type { Env } from "../../src/env";
import { api, createRun, events, newTenantKey, waitForRun } from "../support/api";

afterEach(() => reset());

const hook = { url: "https://hooks.example.com/factory", eventTypes: ["run.*", "step.failed"] };
const POLICY: DeliveryPolicy = { schedule: [100, 200], disable: { failures: 3, afterMs: 0 }, inFlightMs: 1_000 };
const event = (n: number, type = "run.succeeded") => ({ eventId: `evt_${n}`, type, runId: "run_x", projectId: "p" });
const failure = { statusCode: 500, latencyMs: 3, excerpt: "boom", error: null };

describe("the webhooks API", () => {
  it("creates (secret shown once), lists, reads, updates, rotates and deletes an endpoint", async () => {
    const created = await api("/v1/webhooks", { method: "POST", json: hook });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string; secret: string; status: string };
    expect(body).toMatchObject({ status: "active", secret: expect.stringMatching(/^whsec_/) });
    expect(created.headers.get("location")).toBe(`/v1/webhooks/${body.id}`);

    const read = (await (await api(`/v1/webhooks/${body.id}`)).json()) as Record<string, unknown>;
    expect(read).not.toHaveProperty("secret");
    const listed = (await (await api("/v1/webhooks")).json()) as { items: unknown[] };
    expect(JSON.stringify(listed)).not.toContain(body.secret);

    const patched = await api(`/v1/webhooks/${body.id}`, {
      method: "PATCH",
      json: { eventTypes: ["*"], project: "billing" },
    });
    expect(await patched.json()).toMatchObject({ eventTypes: ["*"], project: "billing" });

    const rotated = (await (
      await api(`/v1/webhooks/${body.id}/rotate-secret`, { method: "POST", json: { overlapMs: 60_000 } })
    ).json()) as {
      secret: string;
      previousSecretExpiresAt: string;
    };
    expect(rotated.secret).not.toBe(body.secret);
    expect(Date.parse(rotated.previousSecretExpiresAt)).toBeGreaterThan(Date.now());

    expect((await api(`/v1/webhooks/${body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/v1/webhooks/${body.id}`)).status).toBe(404);
  });

  it("refuses bad endpoints with problem+json and creates nothing", async () => {
    for (const bad of [
      { ...hook, url: "https://127.0.0.1/x" },
      { ...hook, url: "not a url" },
      { ...hook, eventTypes: ["run.exploded"] },
      { ...hook, eventTypes: [] },
      { ...hook, extra: true },
    ]) {
      const res = await api("/v1/webhooks", { method: "POST", json: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    expect(((await (await api("/v1/webhooks")).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it("another tenant's endpoint is a 404, exactly like a missing one", async () => {
    const other = await newTenantKey("acme");
    const { id } = (await (await api("/v1/webhooks", { method: "POST", json: hook })).json()) as { id: string };
    for (const [method, path] of [
      ["GET", ""],
      ["GET", "/deliveries"],
      ["DELETE", ""],
      ["POST", "/rotate-secret"],
    ] as const) {
      const res = await api(`/v1/webhooks/${id}${path}`, {
        method,
        key: other,
        ...(method === "POST" ? { json: {} } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await api(`/v1/webhooks/${id}`)).status).toBe(200);
  });
});

describe("delivery bookkeeping in the tenant object", () => {
  it("plans each (endpoint, event) once, retries on schedule, then gives up", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), (_o, state) => {
      const book = new WebhookBook(state.storage.sql);
      const { endpoint } = book.create({ ...hook, eventTypes: ["run.*"] }, 0);
      const tasks = book.plan([event(1), event(2, "step.succeeded")], 0, POLICY);
      expect(tasks.map((t) => t.eventId)).toEqual(["evt_1"]); // step.succeeded not subscribed
      expect(book.plan([event(1)], 1, POLICY)).toEqual([]); // a redelivered message plans nothing twice

      const id = tasks[0]!.deliveryId;
      book.record(id, failure, 10, POLICY);
      expect(book.deliveries(endpoint.id, { limit: 10 })![0]).toMatchObject({
        status: "pending",
        attempts: [{ statusCode: 500, excerpt: "boom" }],
      });
      expect(book.due(9)).toEqual([]);
      expect(book.due(10 + 120)).toEqual([id]); // 100 ms ±20 %
      book.record(id, failure, 200, POLICY);
      book.record(id, failure, 500, POLICY); // schedule spent
      expect(book.deliveries(endpoint.id, { limit: 10 })![0]!.status).toBe("failed");
      expect(book.nextDue()).toBeNull();
    });
  });

  it("disables an endpoint after sustained failure and records webhook.endpoint_disabled; PATCH enabled re-enables it", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), (_o, state) => {
      const book = new WebhookBook(state.storage.sql);
      const { endpoint } = book.create(hook, 0);
      const tasks = book.plan([event(1), event(2), event(3)], 0, POLICY);
      for (const t of tasks) book.record(t.deliveryId, failure, 5, POLICY);
      expect(book.get(endpoint.id, 5)).toMatchObject({
        status: "disabled",
        disabledReason: expect.stringContaining("3 consecutive"),
      });
      expect(state.storage.sql.exec("SELECT type FROM tenant_event").toArray()).toEqual([
        { type: "webhook.endpoint_disabled" },
      ]);
      expect(book.plan([event(4)], 6, POLICY)).toEqual([]); // a disabled endpoint gets nothing new
      expect(book.update(endpoint.id, { enabled: true }, 7)).toMatchObject({ status: "active", disabledReason: null });
    });
  });

  it("a success resets the failure streak; replay makes failed deliveries pending again", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), (_o, state) => {
      const book = new WebhookBook(state.storage.sql);
      const { endpoint } = book.create(hook, 0);
      const [a, b] = book.plan([event(1), event(2)], 0, { ...POLICY, schedule: [] });
      book.record(a!.deliveryId, failure, 1, { ...POLICY, schedule: [] });
      book.record(b!.deliveryId, { statusCode: 204, latencyMs: 2, excerpt: null, error: null }, 2, POLICY);
      expect(book.get(endpoint.id, 3)!.status).toBe("active");
      expect(book.replay(endpoint.id, { failedSince: 0 }, 10)).toEqual([a!.deliveryId]);
      expect(book.task(a!.deliveryId, 10, POLICY)).toMatchObject({ eventId: "evt_1" });
      expect(book.replay(endpoint.id, { deliveryId: "dlv_none" }, 10)).toEqual([]);
    });
  });

  it("while a rotation overlaps, deliveries are signed with both secrets", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), (_o, state) => {
      const book = new WebhookBook(state.storage.sql);
      const { endpoint, secret: first } = book.create(hook, 0);
      const { secret: second } = book.rotate(endpoint.id, 1_000, 10)!;
      expect(book.plan([event(1)], 20, POLICY)[0]!.secrets).toEqual([second, first]);
      expect(book.plan([event(2)], 2_000, POLICY)[0]!.secrets).toEqual([second]); // overlap over
    });
  });
});

/**
 * Puts a recording queue in front of the tenant object's webhooks queue: every batch is forwarded
 * to the real local queue (which refuses more than 100 messages, as production does) unless
 * `failOnCall` names the call that fails instead.
 */
function recordSends(object: TenantObject, opts: { failOnCall?: number } = {}) {
  const target = object as unknown as { env: Env };
  const real = target.env.QUEUE_WEBHOOKS;
  const sent: string[] = [];
  let calls = 0;
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<{ deliveryId?: string }>>) {
      const batch = [...messages];
      if (++calls === opts.failOnCall) throw new Error("Unknown Internal Error (15000)");
      await real.sendBatch(batch as never);
      sent.push(...batch.map((m) => m.body.deliveryId!));
    },
  };
  target.env = { ...target.env, QUEUE_WEBHOOKS: queue as unknown as Env["QUEUE_WEBHOOKS"] };
  return { sent, restore: () => (target.env = { ...target.env, QUEUE_WEBHOOKS: real }) };
}

describe("due deliveries past a queue batch", () => {
  const flood = (book: WebhookBook) => {
    const { endpoint } = book.create({ ...hook, eventTypes: ["*"] }, 0);
    // Planned long ago: every timer is due now. Disabled afterwards, so the real consumer that
    // receives these messages makes no outbound call.
    const tasks = book.plan(
      Array.from({ length: 1_000 }, (_, i) => event(i)),
      0,
      POLICY,
    );
    book.update(endpoint.id, { enabled: false }, 1);
    return tasks.map((t) => t.deliveryId);
  };

  it("1,000 deliveries due at once for one tenant are all sent, each once per pass", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), async (object: TenantObject, state) => {
      const book = new WebhookBook(state.storage.sql);
      const ids = flood(book);
      const { sent } = recordSends(object);
      for (let pass = 0; pass < 10 && book.due(Date.now()).length > 0; pass++) await object.alarm();
      expect(book.due(Date.now())).toEqual([]);
      expect(sent).toHaveLength(1_000);
      expect(new Set(sent)).toEqual(new Set(ids));
    });
  });

  it("a send that throws leaves its deliveries due, and the alarm backs off instead of spinning", async () => {
    await runInDurableObject(env.TENANT.getByName("dev"), async (object: TenantObject, state) => {
      const book = new WebhookBook(state.storage.sql);
      flood(book);
      const failing = recordSends(object, { failOnCall: 2 });
      const before = Date.now();
      await object.alarm();
      expect(failing.sent).toHaveLength(100); // the first batch went out and only its timers moved
      expect(book.due(Date.now(), 2_000)).toHaveLength(900);
      expect(await state.storage.getAlarm()).toBeGreaterThanOrEqual(before + 1_000);

      failing.restore();
      const { sent } = recordSends(object);
      for (let pass = 0; pass < 10 && book.due(Date.now()).length > 0; pass++) await object.alarm();
      expect(book.due(Date.now())).toEqual([]);
      expect(new Set([...failing.sent, ...sent]).size).toBe(1_000);
    });
  });
});

describe("a run's events and the tenant's deliveries", () => {
  it("a run lets go of its events only once the tenant holds their deliveries: a webhooks queue that loses messages loses no event", async () => {
    const endpoint = (await (
      await api("/v1/webhooks", { method: "POST", json: { ...hook, eventTypes: ["*"] } })
    ).json()) as { id: string };
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 300 } }] });
    // The run's events wait for its end (or their batching timer) before they leave its outbox.
    // From now on its webhooks queue swallows every message, as the local broker does when the
    // runtime is killed between a send and its delivery.
    await runInDurableObject(env.RUN.getByName(run.id), (object: RunObject) => {
      const target = object as unknown as { env: Env };
      const lossy = { send: async () => undefined, sendBatch: async () => undefined };
      target.env = { ...target.env, QUEUE_WEBHOOKS: lossy as unknown as Env["QUEUE_WEBHOOKS"] };
    });
    expect((await waitForRun(run.id)).status).toBe("succeeded");
    const wanted = (await events(run.id))
      .filter((e) => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(e.type))
      .map((e) => e.eventId);
    expect(wanted.length).toBeGreaterThan(3);

    let planned: string[] = [];
    for (const deadline = Date.now() + 3_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const page = (await (await api(`/v1/webhooks/${endpoint.id}/deliveries?limit=100`)).json()) as {
        items: { eventId: string }[];
      };
      planned = page.items.map((d) => d.eventId);
      if (wanted.every((id) => planned.includes(id))) break;
    }
    expect(planned.sort()).toEqual([...wanted].sort());
  });
});
