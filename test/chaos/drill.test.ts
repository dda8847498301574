/**
 * The chaos drill (`npm run chaos`; `npm run chaos:long` at 200 runs and 100 kills): the real
 * runtime under `wrangler dev` with persistence, a mix of runs, the whole process tree SIGKILLed
 * at random moments and restarted, then an audit of every run, step, artifact and webhook event.
 * Some microservice runs wait at an approval gate across the kills and are approved after the
 * last restart: none may be lost, and none decided twice.
 * CHAOS_RUNS and CHAOS_KILLS scale it.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../../schema/webhooks";
import { startRuntime, waitForRun, type Runtime } from "../e2e/support/runtime";
import { attemptsByStep, describeAttempt, describeKill, killedOut, type Kill, type WireEvent } from "./attempts";
import { type ReceivedSpan, startCollector } from "./collector";
import { startReceiver, type Receiver } from "./receiver";
import { auditSchedules, SCHEDULES, startSchedules } from "./schedules";

const RUNS = Number(process.env.CHAOS_RUNS ?? 24);
const KILLS = Number(process.env.CHAOS_KILLS ?? 3);

type Expect = "succeeded" | "failed";
interface Planned {
  kind: string;
  body: Record<string, unknown>;
  expect: Expect;
  artifacts: string[];
  /** Failures the plan injects on purpose, by step (a `system.fail` or `system.crash` step's `times`). */
  injected?: Record<string, number>;
  /** The run waits at an approval gate (step `approval`) until the drill approves it. */
  gated?: boolean;
}

const chain = (n: number, step: (i: number) => Record<string, unknown>) =>
  Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    dependsOn: i ? [`s${i - 1}`] : [],
    timeoutMs: 3_000,
    ...step(i),
  }));

/** The mix: generators, sleep chains, flaky chains, crashing steps, and runs that must fail. */
function plan(i: number): Planned {
  switch (i % 6) {
    case 0: {
      // Every other microservice waits at an approval gate, across the kills that follow.
      const gated = i % 12 === 0;
      return {
        kind: gated ? "gated-microservice" : "microservice",
        body: {
          project: "chaos",
          blueprint: "microservice",
          input: { name: `svc-${i}`, ...(gated ? { approval: true } : {}) },
        },
        expect: "succeeded",
        artifacts: [`svc-${i}.zip`],
        ...(gated ? { gated } : {}),
      };
    }
    case 1:
      return {
        kind: "sleep-chain",
        body: { project: "chaos", steps: chain(6, () => ({ type: "system.sleep", input: { ms: 300 } })) },
        expect: "succeeded",
        artifacts: [],
      };
    case 2:
      return {
        kind: "flaky-chain",
        body: {
          project: "chaos",
          steps: chain(4, (k) => ({ type: "system.fail", input: { times: k % 2 }, retry: { maxAttempts: 4 } })),
        },
        expect: "succeeded",
        artifacts: [],
        injected: { s1: 1, s3: 1 },
      };
    case 3:
      return {
        kind: "crash",
        body: {
          project: "chaos",
          steps: [
            { id: "c", type: "system.crash", input: { times: 1 }, timeoutMs: 1_000 },
            { id: "after", type: "system.sleep", input: { ms: 200 }, dependsOn: ["c"], timeoutMs: 3_000 },
          ],
        },
        expect: "succeeded",
        artifacts: [],
        injected: { c: 1 },
      };
    case 4: {
      const width = 12;
      const steps = [
        { id: "root", type: "system.echo", input: {} },
        ...Array.from({ length: width }, (_, k) => ({
          id: `w${k}`,
          type: "system.sleep",
          input: { ms: 150 },
          dependsOn: ["root"],
          timeoutMs: 3_000,
        })),
        { id: "join", type: "system.echo", input: {}, dependsOn: Array.from({ length: width }, (_, k) => `w${k}`) },
      ];
      return { kind: "fan-out", body: { project: "chaos", steps }, expect: "succeeded", artifacts: [] };
    }
    default:
      return {
        kind: "doomed",
        body: {
          project: "chaos",
          steps: chain(3, (k) => ({
            type: k === 1 ? "system.fail" : "system.sleep",
            input: k === 1 ? { times: -1 } : { ms: 200 },
          })),
        },
        expect: "failed",
        artifacts: [],
      };
  }
}

/**
 * How long after its start an attempt of this mix may still be at work (each does at most 300 ms,
 * with room for a machine loaded by restarts): a kill later than that does not explain its timeout.
 */
const WORK_MS = 2_000;

/** How long the audit waits, after every run ended, for the webhook events still on their way. */
const WEBHOOK_WAIT_MS = Number(process.env.CHAOS_WEBHOOK_WAIT_MS ?? 120_000);

let rt: Runtime;
/** Decides the gated runs: the key that starts a run may not decide its gates. */
let approver: Runtime;
let receiver: Receiver;
let collector: Awaited<ReturnType<typeof startCollector>>;
beforeAll(async () => {
  receiver = await startReceiver();
  collector = await startCollector();
  rt = await startRuntime({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    // A loaded machine may answer a loopback export slowly: a try is not cut short for it.
    TELEMETRY_TIMEOUT_MS: "20000",
    LEASE_QUEUED_MS: "2000",
    LEASE_GRACE_MS: "500",
    RETRY_BASE_MS: "100",
    // Retries of refused or interrupted deliveries in seconds, not the production day.
    WEBHOOK_SCHEDULE_MS: "200,500,1000,2000,3000,5000,5000,5000,5000,5000",
    WEBHOOK_TIMEOUT_MS: "3000",
    // A delivery whose message or attempt died with the runtime is sent again after this.
    WEBHOOK_IN_FLIGHT_MS: "6000",
  });
  // The dev tenant's 600 requests a minute would answer the audit's own reads with 429: the drill
  // gets a tenant of its own whose limits are out of the way.
  const admin = { authorization: `Bearer ${rt.adminToken}` };
  const tenant = await rt.fetch("/v1/admin/tenants", {
    method: "POST",
    headers: admin,
    json: {
      name: "Chaos drill",
      limits: { maxConcurrentRuns: 1_000, requestsPerMinute: 1_000_000, monthlyRuns: 100_000_000 },
    },
  });
  expect(tenant.status).toBe(201);
  const { id } = (await tenant.json()) as { id: string };
  const created = await rt.fetch(`/v1/admin/tenants/${id}/keys`, {
    method: "POST",
    headers: admin,
    json: { name: "chaos", scopes: ["runs:read", "runs:write", "webhooks:manage"] },
  });
  expect(created.status).toBe(201);
  const grant = await rt.fetch(`/v1/admin/tenants/${id}/keys`, {
    method: "POST",
    headers: admin,
    json: { name: "chaos-approver", scopes: ["runs:read", "approvals:grant"] },
  });
  expect(grant.status).toBe(201);
  rt = rt.as(((await created.json()) as { key: string }).key);
  approver = rt.as(((await grant.json()) as { key: string }).key);
  const hook = await rt.fetch("/v1/webhooks", {
    method: "POST",
    json: { url: receiver.url, eventTypes: ["*"], description: "chaos drill receiver" },
  });
  expect(hook.status).toBe(201);
  receiver.setSecret(((await hook.json()) as { secret: string }).secret);
});
afterAll(async () => {
  await rt?.stop();
  await receiver?.close();
  await collector?.close();
});

/** A JSON read that must succeed: a problem body instead of the expected one fails loudly, with its text. */
async function read<T>(path: string): Promise<T> {
  const res = await rt.fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface RunView {
  status: string;
  traceId: string;
  error: { code: string; message: string } | null;
  steps: { id: string; status: string; attempts: number }[];
}

/**
 * Every span of every run arrived across the kills: each finished run's root, and one job span id
 * per attempt it dispatched (sent twice after a kill, a span keeps its id: distinct ids are
 * counted). Two spans under one id must be the same span (name and parent).
 */
async function auditSpans(spans: ReceivedSpan[], runs: { id: string; run: RunView }[], report: string[]) {
  const rooted = (id: string) => spans.some((s) => s.name === "factory.run.execute" && s.runId === id);
  // An export cut short by a kill is retried with backoff (1 s, 2 s, 4 s, …): wait generously.
  for (let until = Date.now() + 240_000; runs.some((r) => !rooted(r.id)) && Date.now() < until; )
    await new Promise((r) => setTimeout(r, 500));
  const byId = new Map<string, ReceivedSpan>();
  let conflictingIds = 0;
  for (const s of spans) {
    const seen = byId.get(`${s.traceId}/${s.spanId}`);
    if (seen && (seen.name !== s.name || seen.parentSpanId !== s.parentSpanId)) conflictingIds++;
    byId.set(`${s.traceId}/${s.spanId}`, s);
  }
  let runsWithoutRoot = 0;
  let badJobSpans = 0;
  for (const { id, run } of runs) {
    if (!rooted(id)) {
      runsWithoutRoot++;
      const got = spans.filter((s) => s.traceId === run.traceId).map((s) => s.name);
      report.push(
        `trace of ${id} (${run.status}, trace ${run.traceId}): no root span arrived; got [${got.join(", ")}]`,
      );
      continue;
    }
    const jobs = [...byId.values()].filter((s) => s.traceId === run.traceId && s.name === "factory.job.execute");
    const attempts = run.steps.reduce((n, st) => n + st.attempts, 0);
    if (jobs.length !== attempts) {
      badJobSpans++;
      report.push(`trace of ${id}: ${jobs.length} job spans for ${attempts} attempts`);
    }
  }
  return { spans: spans.length, distinct: byId.size, runsWithoutRoot, badJobSpans, conflictingIds };
}

it(`${RUNS} runs survive ${KILLS} SIGKILLs of the whole runtime: nothing lost, nothing duplicated, every webhook event delivered`, async () => {
  const started = Date.now();
  const submitted: { id: string; planned: Planned }[] = [];
  const kills: Kill[] = [];
  // Schedules fire in a tenant of their own through every kill (./schedules.ts).
  const scheduled = await startSchedules(rt);
  const submit = async (i: number) => {
    const planned = plan(i);
    for (;;) {
      const res = await rt
        .fetch("/v1/runs", { method: "POST", json: planned.body, headers: { "idempotency-key": `chaos-${i}` } })
        .catch(() => null);
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
    const killedAt = Date.now();
    rt.crash();
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 500));
    await rt.restart();
    kills.push({ n: kills.length + 1, killedAt, upAt: Date.now() });
  }

  // The schedules fired through every kill: once each has fired after the last restart, they stop.
  const scheduleAudit = await auditSchedules(scheduled.as, scheduled.ids, kills);

  // The gated runs wait at their gates (some since before a kill): approve each after the last
  // restart, twice, to see the second answer repeat the first.
  let gatesDecided = 0;
  let gatesWaitedAcrossKill = 0;
  let gatesBadAnswer = 0;
  let gatesWaited = 0;
  for (const { id } of submitted.filter((s) => s.planned.gated)) {
    let gateStatus: string | undefined;
    for (let i = 0; i < 600; i++) {
      const run = await read<RunView>(`/v1/runs/${id}`);
      gateStatus = run.steps.find((s) => s.id === "approval")?.status;
      // A run killed out before its gate (audited below like any other) has nothing to decide.
      if (gateStatus === "waiting" || run.status === "failed") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (gateStatus !== "waiting") continue;
    gatesWaited++;
    const waiting = (await read<{ items: WireEvent[] }>(`/v1/runs/${id}/events?limit=1000`)).items.find(
      (e) => e.type === "step.waiting",
    );
    if (waiting && kills.some((k) => k.killedAt > Date.parse(waiting.occurredAt))) gatesWaitedAcrossKill++;
    const approve = () =>
      approver.fetch(`/v1/runs/${id}/steps/approval/approve`, { method: "POST", json: { comment: "chaos" } });
    const [first, second] = [await approve(), await approve()];
    const answers = [(await first.json()) as { repeated?: boolean }, (await second.json()) as { repeated?: boolean }];
    if (first.status !== 200 || second.status !== 200 || answers[0]!.repeated || !answers[1]!.repeated)
      gatesBadAnswer++;
    else gatesDecided++;
  }

  let steps = 0;
  let lost = 0;
  let duplicated = 0;
  let wrongState = 0;
  let killedOutRuns = 0;
  let artifactsChecked = 0;
  let artifactsExpected = 0;
  let badArtifacts = 0;
  let recovered = 0;
  let usageMismatch = 0;
  let attemptsMetered = 0;
  const report: string[] = [];
  const expectedEvents = new Map<string, { runId: string; seq: number; type: string; at: number }>();
  for (const { id, planned } of submitted) {
    const run = (await waitForRun(rt, id, 120_000)) as RunView;
    const events = (await read<{ items: WireEvent[] }>(`/v1/runs/${id}/events?limit=1000`)).items;
    for (const e of events)
      if ((WEBHOOK_EVENT_TYPES as readonly string[]).includes(e.type))
        expectedEvents.set(e.eventId, { runId: id, seq: e.seq, type: e.type, at: Date.parse(e.occurredAt) });
    recovered += events.filter((e) => e.type === "step.lease_expired").length;
    // A gate is decided once, whatever the kills did.
    if (planned.gated && events.filter((e) => e.type === "step.approved").length > 1) duplicated++;
    const attempts = attemptsByStep(events, kills);

    // A run planned to succeed may end failed only by the documented rule: each of its failed
    // steps ran out of attempts to kills of the runtime (plus the failures the plan injects).
    const failedSteps = run.steps.filter((s) => s.status === "failed");
    const isKilledOut =
      planned.expect === "succeeded" &&
      run.status === "failed" &&
      failedSteps.length > 0 &&
      failedSteps.every((s) => killedOut(attempts.get(s.id) ?? [], planned.injected?.[s.id] ?? 0, WORK_MS));
    if (isKilledOut) killedOutRuns++;
    else if (run.status !== planned.expect) wrongState++;
    if (run.status !== planned.expect) {
      report.push(
        `${isKilledOut ? "killed out" : "WRONG"}: run ${id} (${planned.kind}) ${run.status}, expected ${planned.expect}; error ${run.error ? `${run.error.code}: ${run.error.message}` : "none"}`,
      );
      for (const step of run.steps.filter((s) => s.status !== "succeeded")) {
        report.push(`  step ${step.id}: ${step.status} after ${step.attempts} attempt(s)`);
        for (const a of attempts.get(step.id) ?? []) report.push(`    ${describeAttempt(a)}`);
      }
    }

    // Metering survives the kills too: every dispatched attempt is counted once.
    const usage = await read<{ attempts: number }>(`/v1/runs/${id}/usage`);
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
      } else if (planned.expect === "succeeded" && !isKilledOut) {
        lost++;
      }
    }
    const manifest = (
      await read<{ items: { name: string; sha256: string; size: number; stepId: string; attempt: number }[] }>(
        `/v1/runs/${id}/artifacts`,
      )
    ).items;
    if (new Set(manifest.map((a) => a.name)).size !== manifest.length) duplicated++;
    // A killed-out generator may have produced none of its artifacts; one it did produce is still audited.
    const expectedArtifacts = isKilledOut
      ? manifest.map((a) => a.name).filter((n) => planned.artifacts.includes(n))
      : planned.artifacts;
    artifactsExpected += expectedArtifacts.length;
    if (
      manifest
        .map((a) => a.name)
        .sort()
        .join() !== [...expectedArtifacts].sort().join()
    )
      badArtifacts++;
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
    const items = (await read<{ items: { runs: number; attempts: number }[] }>("/v1/usage?groupBy=project")).items;
    rolledUp = items.reduce((n, r) => n + r.attempts, 0);
    if (items.reduce((n, r) => n + r.runs, 0) === submitted.length && rolledUp === attemptsMetered) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (rolledUp !== attemptsMetered) usageMismatch++;

  // Webhooks: every event of every run reaches the receiver, deduplicated by webhook-id, exactly
  // once. Deliveries refused on purpose or cut short by a kill are retried on the short schedule.
  const missing = () => [...expectedEvents.keys()].filter((id) => !receiver.received.has(id));
  const waitUntil = Date.now() + WEBHOOK_WAIT_MS;
  while (missing().length > 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 500));
  const webhookMissing = missing();
  const webhookUnexpected = [...receiver.received.keys()].filter((id) => !expectedEvents.has(id));
  // Two webhook-ids for one event would survive deduplication and reach the receiver's logic twice.
  const idsPerEvent = new Map<string, Set<string>>();
  for (const r of receiver.received.values()) {
    const key = `${r.runId}#${r.seq}`;
    idsPerEvent.set(key, (idsPerEvent.get(key) ?? new Set()).add(r.webhookId));
  }
  const webhookDuplicated = [...idsPerEvent.values()].filter((ids) => ids.size > 1).length;
  const received = [...receiver.received.values()];
  const webhooks = {
    events: expectedEvents.size,
    received: receiver.received.size,
    missing: webhookMissing.length,
    unexpected: webhookUnexpected.length,
    duplicated: webhookDuplicated,
    unverified: receiver.unverified,
    refused: receiver.refused,
    redelivered: received.reduce((n, r) => n + r.accepted - 1, 0),
    requests: receiver.refused + received.reduce((n, r) => n + r.accepted, 0),
  };
  for (const id of webhookMissing.slice(0, 50)) {
    const e = expectedEvents.get(id)!;
    const kill = kills.find((k) => k.killedAt >= e.at);
    report.push(
      `webhook event missing: ${id} (${e.type}, run ${e.runId}, seq ${e.seq}) at ${new Date(e.at).toISOString()}; next kill ${kill ? describeKill(kill) : "none"}`,
    );
  }

  const traces = await auditSpans(
    collector.spans,
    await Promise.all(submitted.map(async ({ id }) => ({ id, run: await read<RunView>(`/v1/runs/${id}`) }))),
    report,
  );

  const summary = {
    traces,
    runs: submitted.length,
    kills: kills.length,
    steps,
    lost,
    duplicated,
    wrongState,
    killedOut: killedOutRuns,
    artifactsChecked,
    badArtifacts,
    usageMismatch,
    attemptsMetered,
    leaseRecoveries: recovered,
    gates: {
      runs: submitted.filter((s) => s.planned.gated).length,
      waited: gatesWaited,
      decided: gatesDecided,
      waitedAcrossKill: gatesWaitedAcrossKill,
      badAnswers: gatesBadAnswer,
    },
    webhooks,
    schedules: scheduleAudit,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  report.push(...summary.schedules.report);
  console.log(`chaos drill: ${JSON.stringify(summary)}`);
  if (report.length > 0)
    console.log(
      ["chaos drill, runs not in their planned state and what is missing:", ...report, ...kills.map(describeKill)].join(
        "\n",
      ),
    );
  expect(summary).toMatchObject({
    runs: RUNS,
    kills: KILLS,
    lost: 0,
    duplicated: 0,
    wrongState: 0,
    badArtifacts: 0,
    usageMismatch: 0,
  });
  expect(webhooks).toMatchObject({ missing: 0, unexpected: 0, duplicated: 0, unverified: 0 });
  expect(traces).toMatchObject({ runsWithoutRoot: 0, badJobSpans: 0, conflictingIds: 0 });
  expect(summary.gates.badAnswers).toBe(0);
  // Every fire time in the window has exactly one run: none doubled, none missed (catchUp PT1M covers the kills).
  expect(summary.schedules).toMatchObject({ schedules: SCHEDULES, doubled: 0, missed: 0, notSpanning: 0 });
  expect(summary.gates.decided).toBe(summary.gates.waited);
  expect(artifactsChecked).toBe(artifactsExpected);
});
