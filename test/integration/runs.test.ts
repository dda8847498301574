import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

describe("runs execute through the real queues and Run DO", () => {
  it("a chain runs in order and logs every transition in the envelope", async () => {
    const run = await createRun({
      project: "demo",
      steps: [
        { id: "a", type: "system.echo", input: { n: 1 } },
        { id: "b", type: "system.echo", input: { n: 2 }, dependsOn: ["a"] },
      ],
    });
    expect(run.status).toBe("running");
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(done.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["a", "succeeded", 1],
      ["b", "succeeded", 1],
    ]);
    expect(done.steps[1]!.output).toEqual({ n: 2 });
    const log = await events(run.id);
    expect(log.map((e) => `${e.type}${e.stepId ? `:${e.stepId}` : ""}`)).toEqual([
      "run.requested",
      "run.validated",
      "run.queued",
      "run.started",
      "step.queued:a",
      "step.started:a",
      "step.succeeded:a",
      "step.queued:b",
      "step.started:b",
      "step.succeeded:b",
      "run.succeeded",
    ]);
    expect(new Set(log.map((e) => e.eventId)).size).toBe(log.length);
    expect(log[0]).toMatchObject({ tenantId: "dev", projectId: "demo", runId: run.id, traceId: run.traceId });
  });

  it("a 50-step chain of system.echo succeeds", async () => {
    const steps = Array.from({ length: 50 }, (_, i) => ({
      id: `s${i}`,
      type: "system.echo",
      input: { i },
      dependsOn: i === 0 ? [] : [`s${i - 1}`],
    }));
    const done = await waitForRun((await createRun({ project: "chain", steps })).id, { timeoutMs: 25_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps.every((s) => s.status === "succeeded" && s.attempts === 1)).toBe(true);
  });

  it("a 100-wide fan-out and fan-in succeeds", async () => {
    const width = 100;
    const steps = [
      { id: "root", type: "system.echo", input: {} },
      ...Array.from({ length: width }, (_, i) => ({
        id: `w${i}`,
        type: "system.echo",
        input: { i },
        dependsOn: ["root"],
      })),
      { id: "join", type: "system.echo", input: {}, dependsOn: Array.from({ length: width }, (_, i) => `w${i}`) },
    ];
    const done = await waitForRun((await createRun({ project: "fan", steps })).id, { timeoutMs: 25_000 });
    expect(done.status).toBe("succeeded");
    expect(done.steps.filter((s) => s.status === "succeeded")).toHaveLength(width + 2);
    const log = await events(done.id);
    // The join is dispatched once, after all 100 branches.
    expect(log.filter((e) => e.type === "step.queued" && e.stepId === "join")).toHaveLength(1);
    const lastBranch = Math.max(
      ...log.filter((e) => e.type === "step.succeeded" && e.stepId?.startsWith("w")).map((e) => e.seq),
    );
    expect(log.find((e) => e.type === "step.queued" && e.stepId === "join")!.seq).toBeGreaterThan(lastBranch);
  });

  it("a retryable failure is retried with backoff until it succeeds", async () => {
    const done = await waitForRun(
      (await createRun({ project: "p", steps: [{ id: "flaky", type: "system.fail", input: { times: 2 } }] })).id,
    );
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]).toMatchObject({ status: "succeeded", attempts: 3, output: { attempt: 3 } });
    const log = await events(done.id);
    expect(log.filter((e) => e.type === "step.retrying")).toHaveLength(2);
    expect(log.filter((e) => e.type === "step.retrying")[0]!.data).toMatchObject({
      attempt: 1,
      error: { code: "system.fail", retryable: true },
    });
  });

  it("retries stop at maxAttempts and fail the run, skipping what depended on the step", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "flaky", type: "system.fail", input: { times: 5 }, retry: { maxAttempts: 2 } },
        { id: "after", type: "system.echo", dependsOn: ["flaky"] },
      ],
    });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatchObject({ code: "run.step_failed" });
    expect(done.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["flaky", "failed", 2],
      ["after", "skipped", 0],
    ]);
  });

  it("a non-retryable failure fails the step on its first attempt", async () => {
    const done = await waitForRun(
      (await createRun({ project: "p", steps: [{ id: "doomed", type: "system.fail", input: { times: -1 } }] })).id,
    );
    expect(done.status).toBe("failed");
    expect(done.steps[0]).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "system.fail", retryable: false },
    });
    expect((await events(done.id)).some((e) => e.type === "step.retrying")).toBe(false);
  });

  it("a step that passes its timeout fails that attempt and is retried", async () => {
    const done = await waitForRun(
      (
        await createRun({
          project: "p",
          steps: [
            { id: "slow", type: "system.sleep", input: { ms: 5_000 }, timeoutMs: 150, retry: { maxAttempts: 2 } },
          ],
        })
      ).id,
    );
    expect(done.status).toBe("failed");
    expect(done.steps[0]).toMatchObject({ attempts: 2, error: { code: "step.timeout" } });
  });

  it("cancel stops a running run: queued steps never start, and cancelling twice is a 409", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "long", type: "system.sleep", input: { ms: 2_000 } },
        { id: "next", type: "system.echo", dependsOn: ["long"] },
      ],
    });
    const res = await api(`/v1/runs/${run.id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    const cancelled = (await res.json()) as typeof run;
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.steps.map((s) => s.status)).toEqual(["cancelled", "skipped"]);
    const again = await api(`/v1/runs/${run.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { code: string }).code).toBe("run.not_cancellable");
    // The sleeping attempt's late result is refused and changes nothing.
    await new Promise((r) => setTimeout(r, 2_300));
    const after = (await (await api(`/v1/runs/${run.id}`)).json()) as typeof run;
    expect(after.status).toBe("cancelled");
    expect(after.steps.map((s) => s.status)).toEqual(["cancelled", "skipped"]);
  });
});

describe("idempotency and listing", () => {
  const body = { project: "p", steps: [{ id: "a", type: "system.echo", input: {} }] };

  it("the same Idempotency-Key and body return the same run; another body is a 409", async () => {
    const first = await api("/v1/runs", { method: "POST", json: body, headers: { "idempotency-key": "k-1" } });
    const second = await api("/v1/runs", { method: "POST", json: body, headers: { "idempotency-key": "k-1" } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const [a, b] = [(await first.json()) as { id: string }, (await second.json()) as { id: string }];
    expect(b.id).toBe(a.id);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("location")).toBe(`/v1/runs/${a.id}`);
    const conflict = await api("/v1/runs", {
      method: "POST",
      json: { ...body, project: "other" },
      headers: { "idempotency-key": "k-1" },
    });
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { code: string }).code).toBe("idempotency.conflict");
    const list = (await (await api("/v1/runs")).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(1);
  });

  it("lists newest first, filters by project and status, and pages with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createRun({ ...body, project: i % 2 ? "odd" : "even" })).id);
    await Promise.all(ids.map((id) => waitForRun(id)));
    const page1 = (await (await api("/v1/runs?limit=2")).json()) as { items: { id: string }[]; nextCursor: string };
    expect(page1.items.map((r) => r.id)).toEqual([ids[4], ids[3]]);
    const page2 = (await (await api(`/v1/runs?limit=2&cursor=${page1.nextCursor}`)).json()) as {
      items: { id: string }[];
      nextCursor: string;
    };
    expect(page2.items.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const page3 = (await (await api(`/v1/runs?limit=2&cursor=${page2.nextCursor}`)).json()) as {
      items: { id: string }[];
      nextCursor: null;
    };
    expect(page3.items.map((r) => r.id)).toEqual([ids[0]]);
    expect(page3.nextCursor).toBeNull();
    const odd = (await (await api("/v1/runs?project=odd&status=succeeded")).json()) as {
      items: { id: string; status: string }[];
    };
    expect(odd.items.map((r) => r.id)).toEqual([ids[3], ids[1]]);
    expect((await api("/v1/runs?cursor=garbage")).status).toBe(400);
    expect((await api("/v1/runs?status=sleeping")).status).toBe(400);
  });
});
