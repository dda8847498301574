import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

let rt: Runtime;
let provider: Server;
let base = "";
/** Until then the fake provider answers 503; every call is counted with the time it came. */
let recoverAt = Number.POSITIVE_INFINITY;
const calls: { at: number; status: number }[] = [];

beforeAll(async () => {
  // A real OpenAI-compatible endpoint on loopback, with an outage we control.
  provider = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const status = Date.now() < recoverAt ? 503 : 200;
      calls.push({ at: Date.now(), status });
      if (status === 503) return res.writeHead(503).end("upstream overloaded");
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          model: "mock-small",
          choices: [{ message: { content: "export const ok = true;" } }],
          usage: { prompt_tokens: 10, completion_tokens: 5 },
        }),
      );
    });
  });
  await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
  rt = await startRuntime({ AI_PROVIDER: "openai", OPENAI_BASE_URL: base, AI_MODEL: "mock-small" });
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  provider?.close();
});

it("a provider outage opens its breaker: 50 agent steps cost at most the threshold plus probes in calls, none fails, all finish after recovery", async () => {
  const dependency = `ai:openai:${base}:mock-small`;
  const config = {
    failureThreshold: 5,
    failureRate: 1,
    windowMs: 60_000,
    minRequests: 1_000,
    cooldownMs: 500,
    jitter: 0,
    probes: 1,
  };
  const set = await rt.fetch(`/v1/admin/breakers/${encodeURIComponent(dependency)}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${rt.adminToken}` },
    json: config,
  });
  expect(set.status).toBe(200);

  const outageMs = 3_000;
  const started = Date.now();
  recoverAt = started + outageMs;
  const res = await rt.fetch("/v1/runs", {
    method: "POST",
    json: {
      project: "ai",
      steps: Array.from({ length: 50 }, (_, i) => ({
        id: `gen${i}`,
        type: "agent.generate",
        input: { prompt: `Write function ${i}.`, maxTokens: 32 },
      })),
    },
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const run = await waitForRun(rt, id, 60_000);
  expect(run.status).toBe("succeeded");
  expect(run.steps.every((s) => s.status === "succeeded")).toBe(true);

  const breaker = (await (
    await rt.fetch(`/v1/admin/breakers/${encodeURIComponent(dependency)}`, {
      headers: { authorization: `Bearer ${rt.adminToken}` },
    })
  ).json()) as { state: string; transitions: { to: string; reason: string }[] };
  expect(breaker.state).toBe("closed");
  const probes = breaker.transitions.filter((t) => t.reason === "a probe failed").length;
  const failed = calls.filter((c) => c.status === 503).length;
  expect(failed).toBeGreaterThanOrEqual(config.failureThreshold);
  expect(failed, `503s: ${failed}, failed probes: ${probes}`).toBeLessThanOrEqual(config.failureThreshold + probes);
  expect(probes).toBeLessThanOrEqual(Math.ceil(outageMs / config.cooldownMs) + 1);
  expect(calls.filter((c) => c.status === 200).length).toBe(50);

  const events = (
    (await (await rt.fetch(`/v1/runs/${id}/events?limit=1000`)).json()) as {
      items: { type: string; data: Record<string, unknown> }[];
    }
  ).items;
  expect(events.some((e) => e.type === "step.failed")).toBe(false);
  expect(events.find((e) => e.type === "step.held")?.data).toMatchObject({ reason: "circuit.open", dependency });
  const metrics = (await (await rt.fetch("/v1/metrics")).json()) as { breakers: { name: string }[] };
  expect(metrics.breakers.map((b) => b.name)).toContain(dependency);
}, 90_000);
