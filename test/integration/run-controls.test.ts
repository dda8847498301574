import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { RunView } from "../../schema/api";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const control = (id: string, action: string) => api(`/v1/runs/${id}/${action}`, { method: "POST" });
const get = async (id: string) => (await (await api(`/v1/runs/${id}`)).json()) as RunView;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls until `done` holds; fails the test after `timeoutMs` rather than hanging. */
async function until(done: () => Promise<boolean>, timeoutMs = 8_000) {
  for (const deadline = Date.now() + timeoutMs; !(await done()); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}

async function expectRefused(res: Response, code: string) {
  expect(res.status).toBe(409);
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

describe("pause and resume", () => {
  it("a paused run dispatches nothing new; the running attempt finishes; resume sends the rest", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "a", type: "system.sleep", input: { ms: 1_000 } },
        { id: "b", type: "system.echo", dependsOn: ["a"] },
      ],
    });
    const paused = await control(run.id, "pause");
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as RunView).status).toBe("paused");
    await expectRefused(await control(run.id, "pause"), "run.not_pausable");

    await until(async () => (await get(run.id)).steps[0]!.status === "succeeded");
    await sleep(200); // time enough for a dispatch of b, which must not happen
    const held = await get(run.id);
    expect(held.status).toBe("paused");
    expect(held.steps.map((s) => [s.id, s.status])).toEqual([
      ["a", "succeeded"],
      ["b", "pending"],
    ]);

    expect((await control(run.id, "resume")).status).toBe(200);
    await expectRefused(await control(run.id, "resume"), "run.not_resumable");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    const types = (await events(run.id)).map((e) => e.type);
    expect(types.indexOf("run.paused")).toBeLessThan(types.indexOf("run.resumed"));
  });

  it("a retry whose backoff ends during a pause is held until resume", async () => {
    // Backoff has full jitter, so the failure names a floor (retry-after) long enough for the pause
    // to land first on a loaded machine; the test then waits for the hold itself, not a fixed time.
    const run = await createRun({
      project: "p",
      steps: [{ id: "a", type: "system.fail", input: { times: 1, retryAfterMs: 1_500 } }],
    });
    await until(async () => (await get(run.id)).steps[0]!.status === "retrying");
    expect((await control(run.id, "pause")).status).toBe(200);
    await until(async () => (await events(run.id)).some((e) => e.type === "step.held"));
    expect((await get(run.id)).steps[0]!.status).toBe("retrying");
    expect((await events(run.id)).some((e) => e.type === "step.held")).toBe(true);
    await control(run.id, "resume");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.attempts).toBe(2);
  });

  it("a paused run can be cancelled; a finished one cannot be paused, resumed or cancelled", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "a", type: "system.sleep", input: { ms: 2_000 } },
        { id: "b", type: "system.echo", dependsOn: ["a"] },
      ],
    });
    expect((await control(run.id, "pause")).status).toBe(200);
    expect((await control(run.id, "cancel")).status).toBe(200);
    const cancelled = await get(run.id);
    expect(cancelled.status).toBe("cancelled");
    await expectRefused(await control(run.id, "pause"), "run.not_pausable");
    await expectRefused(await control(run.id, "resume"), "run.not_resumable");
    await expectRefused(await control(run.id, "cancel"), "run.not_cancellable");
  });
});

describe("cancel reaches running handlers", () => {
  it("a sleeping handler learns of the cancel at its next heartbeat and stops", async () => {
    const run = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 8_000 } }] });
    await until(async () => (await get(run.id)).steps[0]!.status === "running");
    const started = Date.now();
    await control(run.id, "cancel");
    // The handler reports (and is refused) well before its 8 s sleep would have ended.
    for (; Date.now() - started < 4_000; await sleep(50)) {
      if ((await events(run.id)).some((e) => e.type === "step.result_refused")) break;
    }
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await get(run.id)).status).toBe("cancelled");
  });
});

describe("retry", () => {
  it("re-runs only what did not succeed, in a new run that keeps the succeeded outputs and artifacts", async () => {
    const first = await waitForRun(
      (
        await createRun({
          project: "p",
          steps: [
            { id: "ok", type: "system.echo", input: { keep: "me" } },
            { id: "bad", type: "system.fail", input: { times: -1 }, dependsOn: ["ok"] },
            { id: "after", type: "system.echo", dependsOn: ["bad"] },
          ],
        })
      ).id,
    );
    expect(first.status).toBe("failed");

    const res = await control(first.id, "retry");
    expect(res.status).toBe(202);
    const second = (await res.json()) as RunView;
    expect(second.id).not.toBe(first.id);
    expect(res.headers.get("location")).toBe(`/v1/runs/${second.id}`);
    expect(second.retryOf).toBe(first.id);
    expect(second.steps.find((s) => s.id === "ok")).toMatchObject({ status: "succeeded", output: { keep: "me" } });

    // Retrying the same run again is idempotent; the original stays failed and points at its retry.
    const again = await control(first.id, "retry");
    expect(((await again.json()) as RunView).id).toBe(second.id);
    const original = await get(first.id);
    expect(original).toMatchObject({ status: "failed", retriedAs: second.id });

    const done = await waitForRun(second.id);
    expect(done.status).toBe("failed"); // bad still fails: times -1
    const log = await events(second.id);
    expect(log.filter((e) => e.type === "step.started").map((e) => e.stepId)).toEqual(["bad"]);
    expect(log.find((e) => e.type === "step.reused")).toMatchObject({ stepId: "ok", data: { fromRun: first.id } });
  });

  it("a retried run carries its artifacts: the manifest points at the same bytes, nothing is rewritten", async () => {
    const first = await waitForRun(
      (
        await createRun({
          project: "p",
          steps: [
            { id: "plan", type: "repo.plan", input: { name: "billing-api" } },
            { id: "scaffold", type: "repo.scaffold", dependsOn: ["plan"] },
            { id: "package", type: "repo.package", input: { name: "billing-api" }, dependsOn: ["scaffold"] },
            { id: "publish", type: "system.fail", input: { times: -1 }, dependsOn: ["package"] },
          ],
        })
      ).id,
    );
    expect(first.status).toBe("failed");
    const [zip] = (
      (await (await api(`/v1/runs/${first.id}/artifacts`)).json()) as { items: { name: string; sha256: string }[] }
    ).items;
    expect(zip?.name).toBe("billing-api.zip");

    const retried = (await (await control(first.id, "retry")).json()) as RunView;
    await waitForRun(retried.id);
    const carried = (
      (await (await api(`/v1/runs/${retried.id}/artifacts`)).json()) as { items: { name: string; sha256: string }[] }
    ).items;
    expect(carried).toEqual([expect.objectContaining({ name: "billing-api.zip", sha256: zip!.sha256 })]);
    const download = await api(`/v1/runs/${retried.id}/artifacts/billing-api.zip`);
    expect(download.headers.get("x-content-sha256")).toBe(zip!.sha256);
    expect((await env.ARTIFACTS.list()).objects).toHaveLength(1);
  });

  it("a cancelled run can be retried: what was cancelled or skipped runs again", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "a", type: "system.echo", input: { v: 1 } },
        { id: "b", type: "system.sleep", input: { ms: 3_000 }, dependsOn: ["a"] },
        { id: "c", type: "system.echo", dependsOn: ["b"] },
      ],
    });
    await until(async () => (await get(run.id)).steps[1]!.status === "running");
    await control(run.id, "cancel");
    const retried = (await (await control(run.id, "retry")).json()) as RunView;
    expect(retried.steps.map((s) => [s.id, s.status])).toEqual([
      ["a", "succeeded"],
      ["b", "queued"],
      ["c", "pending"],
    ]);
    const done = await waitForRun(retried.id, { timeoutMs: 10_000 });
    expect(done.status).toBe("succeeded");
  });

  it("only failed or cancelled runs can be retried", async () => {
    const running = await createRun({ project: "p", steps: [{ id: "a", type: "system.sleep", input: { ms: 2_000 } }] });
    await expectRefused(await control(running.id, "retry"), "run.not_retryable");
    await waitForRun(running.id);
    await expectRefused(await control(running.id, "retry"), "run.not_retryable"); // succeeded
    expect((await control("run_0000000000aaaaaaaaaaaaaaaa", "retry")).status).toBe(404);
  });
});

describe("failurePolicy: continue", () => {
  it("independent branches go on; only what depends on the failed step is skipped; the run fails at the end", async () => {
    const run = await createRun({
      project: "p",
      failurePolicy: "continue",
      steps: [
        { id: "bad", type: "system.fail", input: { times: -1 } },
        { id: "needs-bad", type: "system.echo", dependsOn: ["bad"] },
        { id: "slow", type: "system.sleep", input: { ms: 200 } },
        { id: "after-slow", type: "system.echo", dependsOn: ["slow"] },
      ],
    });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    expect(done.failurePolicy).toBe("continue");
    expect(Object.fromEntries(done.steps.map((s) => [s.id, s.status]))).toEqual({
      bad: "failed",
      "needs-bad": "skipped",
      slow: "succeeded",
      "after-slow": "succeeded",
    });
  });
});

describe("leases and chaos", () => {
  it("a step that heartbeats outlives a heartbeat timeout far shorter than its work", async () => {
    const done = await waitForRun(
      (
        await createRun({
          project: "p",
          steps: [
            {
              id: "a",
              type: "system.sleep",
              input: { ms: 2_500 },
              heartbeatTimeoutMs: 1_200,
              retry: { maxAttempts: 1 },
            },
          ],
        })
      ).id,
    );
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.attempts).toBe(1);
  });

  it("system.crash: the invocation dies before acking; the lease ends; a new attempt succeeds", async () => {
    const run = await createRun({
      project: "p",
      steps: [{ id: "a", type: "system.crash", input: { times: 1 }, timeoutMs: 500 }],
    });
    const done = await waitForRun(run.id, { timeoutMs: 15_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]).toMatchObject({ attempts: 2, output: { attempt: 2 } });
    expect((await events(run.id)).find((e) => e.type === "step.lease_expired")?.data).toMatchObject({
      attempt: 1,
      phase: "running",
    });
  });

  it("a run deadline fails the run when it passes", async () => {
    const done = await waitForRun(
      (
        await createRun({
          project: "p",
          deadlineMs: 1_000,
          steps: [{ id: "a", type: "system.sleep", input: { ms: 5_000 } }],
        })
      ).id,
    );
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("run.deadline_exceeded");
  });
});
