/**
 * Waiting for a tenant's own worker is not a lost dispatch (issue 27's gap): a step of a tenant
 * pool is offered again each time its queued lease lapses, never failed `step.undeliverable`,
 * while a system queue's step still is once the lost-dispatch budget is spent. Engine decisions on
 * a run object's real SQLite, with a lost-dispatch budget of 2 (engine-config's is 10).
 */
import { DEFAULT_RESOLVE_OPTIONS } from "../../src/control/resolve";
import { reset, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { RunEngine } from "../../src/control/run/engine";
import type { EngineConfig } from "../../src/control/run/types";
import { RunStore } from "../../src/control/run/store";
import { newRunId } from "../../src/lib/crypto";
import type { NewRun } from "../../schema/run";

afterEach(() => reset());

const CONFIG: EngineConfig = {
  leaseQueuedMs: 1000,
  leaseGraceMs: 100,
  outboxRetryMs: 1000,
  lostBudget: 2,
  resolve: DEFAULT_RESOLVE_OPTIONS,
};

function spec(id: string, step: NewRun["steps"][number]): NewRun {
  return {
    id,
    tenantId: "acme",
    project: "p",
    blueprint: null,
    traceId: `${"0".repeat(31)}1`,
    failurePolicy: "fail-fast",
    priority: "normal",
    steps: [step],
  };
}

const BUILT_IN = {
  id: "a",
  type: "system.echo",
  pool: "system" as const,
  input: {},
  dependsOn: [],
  retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 100 },
  timeoutMs: 1000,
};

const TENANT = {
  ...BUILT_IN,
  type: "acme.lint",
  pool: "external" as const,
  worker: { pool: "linters", version: 1, requires: {}, output: {} },
};

/** Fires the step's queued lease `times` times (each lapse dispatches it again, or ends it). */
async function lapse(step: NewRun["steps"][number], times: number) {
  const runId = newRunId();
  return runInDurableObject(env.RUN.getByName(runId), (_instance, state) => {
    const store = new RunStore(state.storage.sql);
    store.initialize();
    const engine = new RunEngine(store, CONFIG);
    engine.create(spec(runId, step), 0);
    engine.admit(0);
    for (let t = 1; t <= times && store.step("a")!.status === "queued"; t++) {
      engine.fire(store.dueTimers(Number.MAX_SAFE_INTEGER).find((x) => x.kind === "lease")!, t);
    }
    return {
      step: store.step("a")!,
      run: store.run()!,
      undeliverable: store.events(0, 1000).some((e) => JSON.stringify(e).includes("step.undeliverable")),
    };
  });
}

describe("a step waiting for the tenant's own worker", () => {
  it("is offered again past the lost-dispatch budget, still queued, never undeliverable", async () => {
    const { step, run, undeliverable } = await lapse(TENANT, 20);
    expect(step).toMatchObject({ status: "queued", attempt: 21 });
    expect(run.status).toBe("running");
    expect(undeliverable).toBe(false);
  });

  it("while a system queue's step still fails undeliverable once the budget is spent", async () => {
    const { step, run } = await lapse(BUILT_IN, 20);
    expect(step).toMatchObject({ status: "failed", attempt: 1 + CONFIG.lostBudget });
    expect(JSON.parse(step.error!)).toMatchObject({ code: "step.undeliverable" });
    expect(run.status).toBe("failed");
  });
});
