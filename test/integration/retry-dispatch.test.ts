/**
 * Issue 33, finding 9: under load, 19 of 240 retry dispatches did not start until their queued
 * lease ran out. The Run object sent its outbox one pass at a time, and a pass awaits the tenant
 * object (the run's status, its webhook events) before it ends; every run of a tenant calls that
 * object, so under load one call can take seconds. A dispatch written meanwhile (a retry's, by the
 * backoff alarm) waited for the pass in flight, and the alarm for a new backoff timer too. The
 * sender now has two lanes, dispatches and the tenant's rows, and neither waits for the other.
 */
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import { POOL_REGISTRY } from "../../schema/pools";
import type { StepMessage } from "../../schema/messages";
import { OutboxSender } from "../../src/control/run/outbox";
import type { RunStore } from "../../src/control/run/store";
import { createRun, waitForRun } from "../support/api";
import { until } from "../support/storage";

afterEach(() => reset());

it("a dispatch written while the tenant object is slow to answer goes out at once", async () => {
  const run = await createRun({ project: "r", steps: [{ id: "s", type: "system.echo", input: {} }] });
  expect((await waitForRun(run.id, { timeoutMs: 60_000 })).status).toBe("succeeded");
  const stub = env.RUN.get(env.RUN.idFromName(run.id));
  const storeOf = (instance: unknown) => (instance as { store: RunStore }).store;
  // A quiet object: its own sender has sent everything (the webhook batch goes after 2 s).
  await until(
    "an empty outbox",
    () => runInDurableObject(stub, (o) => (storeOf(o).outboxEmpty() ? true : null)),
    60_000,
  );

  // The tenant object answers only when the test lets it; the pool's queues are recorded.
  let answerTenant: () => void = () => {};
  const tenantAnswered = new Promise<void>((resolve) => {
    answerTenant = resolve;
  });
  const slowTenant = {
    recordRun: async () => {
      await tenantAnswered;
      return { start: false };
    },
    acceptEvents: async () => {
      await tenantAnswered;
    },
  };
  const queued: StepMessage[] = [];
  const queues = Object.fromEntries(
    POOL_REGISTRY.system.shards.map((s) => [
      s.binding,
      { sendBatch: async (batch: { body: StepMessage }[]) => void queued.push(...batch.map((m) => m.body)) },
    ]),
  );
  const fakeEnv = { ...env, ...queues, TENANT: { getByName: () => slowTenant } } as unknown as typeof env;

  await runInDurableObject(stub, async (instance, state) => {
    const store = storeOf(instance);
    const write = (kind: "tenant" | "dispatch", body: unknown) =>
      state.storage.transactionSync(() => {
        store.beginTransaction();
        store.enqueue(kind, kind === "dispatch" ? "system" : null, body);
        store.commit();
      });
    const sender = new OutboxSender(store, fakeEnv, {
      admit: () => {},
      keysAnswered: () => {},
      forgetNow: () => {},
      stepGranted: () => {},
      retryLater: () => {},
      afterPass: async () => {},
    });
    // A status sync goes to the tenant, which does not answer yet.
    write("tenant", { runId: run.id, status: "running" });
    const first = sender.settle();
    // A retry's dispatch is written meanwhile, and the object settles after that change.
    const retry: StepMessage = {
      v: 1,
      runId: run.id,
      tenantId: "dev",
      stepId: "s",
      attempt: 2,
      type: "system.echo",
      pool: "system",
      traceId: "0".repeat(32),
    };
    write("dispatch", retry);
    const second = sender.settle();
    try {
      await until("the dispatch on its queue", async () => (queued.length > 0 ? true : null), 30_000);
      expect(queued).toEqual([retry]);
    } finally {
      answerTenant();
      await Promise.all([first, second]);
      // What this sender sent leaves the outbox, as the object's next transaction would do.
      state.storage.transactionSync(() => {
        store.beginTransaction();
        sender.forgetSent();
        store.commit();
      });
    }
    expect(store.outboxEmpty()).toBe(true);
  });
}, 120_000);
