import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
beforeAll(async () => {
  // Short leases so recovery from lost queue messages takes seconds here, not a minute.
  rt = await startRuntime({ LEASE_QUEUED_MS: "2000", LEASE_GRACE_MS: "500", RETRY_BASE_MS: "50" });
});
afterAll(() => rt?.stop());

describe("kill -9 of the whole runtime mid-run", () => {
  it("every run still finishes after a restart, each step succeeding exactly once", async () => {
    const chain = (n: number, ms: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: `s${i}`,
        type: "system.sleep",
        input: { ms },
        timeoutMs: 2_000,
        dependsOn: i ? [`s${i - 1}`] : [],
      }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await rt.fetch("/v1/runs", { method: "POST", json: { project: "chaos", steps: chain(6, 250) } });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await new Promise((r) => setTimeout(r, 700)); // mid-run: some steps done, some queued, some running

    rt.crash();
    await new Promise((r) => setTimeout(r, 500));
    await rt.restart();

    let recovered = 0;
    for (const id of ids) {
      const run = await waitForRun(rt, id, 60_000);
      expect(run.status).toBe("succeeded");
      const events = (
        (await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as {
          items: { type: string; stepId?: string }[];
        }
      ).items;
      for (const step of run.steps) {
        expect(
          events.filter((e) => e.type === "step.succeeded" && e.stepId === step.id),
          step.id,
        ).toHaveLength(1);
      }
      recovered += events.filter((e) => e.type === "step.lease_expired").length;
    }
    // The crash really cut work off: attempts in flight were lost and re-dispatched by their leases.
    expect(recovered).toBeGreaterThan(0);
  });
});
