/**
 * The chaos drill (`npm run chaos`): real runtime under `wrangler dev` with persistence, a mix
 * of runs, the whole process tree SIGKILLed at random moments and restarted, then an audit of
 * every run, step and artifact. CHAOS_RUNS and CHAOS_KILLS scale it.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";

const RUNS = Number(process.env.CHAOS_RUNS ?? 24);
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);

type Expect = "succeeded" | "failed";
interface Planned {
  kind: string;
  body: Record<string, unknown>;
  expect: Expect;
  artifacts: string[];
}

const chain = (n: number, step: (i: number) => Record<string, unknown>) =>
  Array.from({ length: n }, (_, i) => ({ id: `s${i}`, dependsOn: i ? [`s${i - 1}`] : [], timeoutMs: 3_000, ...step(i) }));

/** The mix: generators, sleep chains, flaky chains, crashing steps, and runs that must fail. */
function plan(i: number): Planned {
  switch (i % 6) {
    case 0:
      return { kind: "microservice", body: { project: "chaos", blueprint: "microservice", input: { name: `svc-${i}` } }, expect: "succeeded", artifacts: [`svc-${i}.zip`] };
    case 1:
      return { kind: "sleep-chain", body: { project: "chaos", steps: chain(6, () => ({ type: "system.sleep", input: { ms: 300 } })) }, expect: "succeeded", artifacts: [] };
    case 2:
      return { kind: "flaky-chain", body: { project: "chaos", steps: chain(4, (k) => ({ type: "system.fail", input: { times: k % 2 }, retry: { maxAttempts: 4 } })) }, expect: "succeeded", artifacts: [] };
    case 3:
      return { kind: "crash", body: { project: "chaos", steps: [{ id: "c", type: "system.crash", input: { times: 1 }, timeoutMs: 1_000 }, { id: "after", type: "system.sleep", input: { ms: 200 }, dependsOn: ["c"] }] }, expect: "succeeded", artifacts: [] };
    case 4: {
      const width = 12;
      const steps = [
        { id: "root", type: "system.echo", input: {} },
        ...Array.from({ length: width }, (_, k) => ({ id: `w${k}`, type: "system.sleep", input: { ms: 150 }, dependsOn: ["root"], timeoutMs: 3_000 })),
        { id: "join", type: "system.echo", input: {}, dependsOn: Array.from({ length: width }, (_, k) => `w${k}`) },
      ];
      return { kind: "fan-out", body: { project: "chaos", steps }, expect: "succeeded", artifacts: [] };
    }
    default:
      return { kind: "doomed", body: { project: "chaos", steps: chain(3, (k) => ({ type: k === 1 ? "system.fail" : "system.sleep", input: k === 1 ? { times: -1 } : { ms: 200 } })) }, expect: "failed", artifacts: [] };
  }
}

let rt: Runtime;
beforeAll(async () => {
  rt = await startRuntime({ LEASE_QUEUED_MS: "2000", LEASE_GRACE_MS: "500", RETRY_BASE_MS: "100" });
});
afterAll(() => rt?.stop());

it(`${RUNS} runs survive ${KILLS} SIGKILLs of the whole runtime: nothing lost, nothing duplicated`, async () => {
  const submitted: { id: string; planned: Planned }[] = [];
  let kills = 0;
  const submit = async (i: number) => {
    const planned = plan(i);
    for (;;) {
      const res = await rt.fetch("/v1/runs", { method: "POST", json: planned.body, headers: { "idempotency-key": `chaos-${i}` } }).catch(() => null);
      if (res?.status === 202) return submitted.push({ id: ((await res.json()) as { id: string }).id, planned });
      await new Promise((r) => setTimeout(r, 200)); // the runtime is down: try again with the same key
    }
  };

  // Submit in waves with kills between them, so kills land with work queued, running and retrying.
  const perWave = Math.ceil(RUNS / (KILLS + 1));
  for (let wave = 0, i = 0; wave <= KILLS; wave++) {
    for (; i < Math.min(RUNS, (wave + 1) * perWave); i++) await submit(i);
    if (wave === KILLS) break;
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 1_200));
    rt.crash();
    kills++;
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 500));
    await rt.restart();
  }

  let steps = 0;
  let lost = 0;
  let duplicated = 0;
  let wrongState = 0;
  let artifactsChecked = 0;
  let badArtifacts = 0;
  let recovered = 0;
  let usageMismatch = 0;
  let attemptsMetered = 0;
  for (const { id, planned } of submitted) {
    const run = await waitForRun(rt, id, 120_000);
    if (run.status !== planned.expect) wrongState++;
    const events = ((await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as {
      items: { type: string; stepId?: string; data: { attempt?: number } }[];
    }).items;
    recovered += events.filter((e) => e.type === "step.lease_expired").length;
    // Metering survives the kills too: every dispatched attempt is counted once.
    const usage = (await (await rt.fetch(`/v1/runs/${id}/usage`)).json()) as { attempts: number };
    if (usage.attempts !== events.filter((e) => e.type === "step.queued").length) usageMismatch++;
    attemptsMetered += usage.attempts;
    const acceptedAttempt = new Map<string, number>();
    for (const step of run.steps) {
      steps++;
      const successes = events.filter((e) => e.type === "step.succeeded" && e.stepId === step.id);
      if (step.status === "succeeded") {
        if (successes.length === 0) lost++;
        if (successes.length > 1) duplicated++;
        acceptedAttempt.set(step.id, successes[0]?.data.attempt ?? -1);
      } else if (planned.expect === "succeeded") {
        lost++;
      }
    }
    const manifest = ((await (await rt.fetch(`/v1/runs/${id}/artifacts`)).json()) as {
      items: { name: string; sha256: string; size: number; stepId: string; attempt: number }[];
    }).items;
    if (new Set(manifest.map((a) => a.name)).size !== manifest.length) duplicated++;
    if (manifest.map((a) => a.name).sort().join() !== planned.artifacts.sort().join()) badArtifacts++;
    for (const a of manifest) {
      artifactsChecked++;
      // Only the accepted attempt's artifacts are listed, and the bytes match what was recorded.
      if (a.attempt !== acceptedAttempt.get(a.stepId)) badArtifacts++;
      const bytes = Buffer.from(await (await rt.fetch(`/v1/runs/${id}/artifacts/${a.name}`)).arrayBuffer());
      if (bytes.length !== a.size || createHash("sha256").update(bytes).digest("hex") !== a.sha256) badArtifacts++;
    }
  }

  // …and the tenant's roll-up adds each finished run exactly once (its status sync may still be on
  // its way from an outbox that a kill interrupted: the alarm re-sends it).
  let rolledUp = 0;
  for (let i = 0; i < 60; i++) {
    const items = ((await (await rt.fetch("/v1/usage?groupBy=project")).json()) as { items: { runs: number; attempts: number }[] }).items;
    rolledUp = items.reduce((n, r) => n + r.attempts, 0);
    if (items.reduce((n, r) => n + r.runs, 0) === submitted.length && rolledUp === attemptsMetered) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (rolledUp !== attemptsMetered) usageMismatch++;

  const summary = { runs: submitted.length, kills, steps, lost, duplicated, wrongState, artifactsChecked, badArtifacts, usageMismatch, attemptsMetered, leaseRecoveries: recovered };
  console.log(`chaos drill: ${JSON.stringify(summary)}`);
  expect(summary).toMatchObject({ runs: RUNS, kills: KILLS, lost: 0, duplicated: 0, wrongState: 0, badArtifacts: 0, usageMismatch: 0 });
  expect(artifactsChecked).toBe(submitted.filter((s) => s.planned.artifacts.length > 0).length);
});
