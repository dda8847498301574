/**
 * Issue 26: a delivery's outgoing calls carry a `traceparent` naming their own
 * `factory.external.*` span. A real `wrangler dev` pushes to Debian's `git http-backend` (smart
 * HTTP) and opens a pull request and a pipeline on the loopback Azure DevOps stand-in; both keep
 * every request's header, and a loopback OTLP collector decodes the run's spans with the official
 * definitions: each header's parent is an external span of the run's trace, named for its service.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReceivedSpan, startCollector } from "../chaos/collector";
import { startGitServer, type GitServer } from "./support/git-server";
import { startAzureFake, type HostFake } from "./support/host-fakes";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

const TOKEN = "gitpat-7d2e1c8b0a4f4b3c9e5d1f2a";
const TRACE_ID = "6df92f3577b34da6a3ce929d0e0e4738";
let rt: Runtime;
let git: GitServer;
let azure: HostFake;
let collector: Awaited<ReturnType<typeof startCollector>>;

beforeAll(async () => {
  git = await startGitServer({ user: "factory", password: TOKEN });
  azure = await startAzureFake(TOKEN, "contoso", "platform", "svc");
  collector = await startCollector();
  rt = await startRuntime({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
  expect((await rt.fetch("/v1/secrets/git-token", { method: "PUT", json: { value: TOKEN } })).status).toBe(201);
}, 120_000);
afterAll(async () => {
  await rt?.stop();
  await git?.close();
  await azure?.close();
  await collector?.close();
});

/** The span id a `traceparent` of the test's trace names as its parent. */
function parentOf(traceparent: string): string {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent);
  expect(m, `a traceparent of the run's trace: '${traceparent}'`).not.toBeNull();
  expect(m![1]).toBe(TRACE_ID);
  return m![2]!;
}

describe("traceparent on Git smart HTTP and Azure DevOps REST", () => {
  it("each request names its own factory.external span of the run's trace", async () => {
    const url = git.repo("contoso/platform/_git/svc");
    const created = await rt.fetch("/v1/runs", {
      method: "POST",
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b9-01` },
      json: {
        project: "delivery-trace",
        blueprint: "microservice",
        input: {
          name: "svc",
          deliver: {
            git: { url, host: "azure-devops", secret: "git-token", apiUrl: `${azure.url}/contoso` },
            azurePipelines: {
              organization: "contoso",
              project: "platform",
              secret: "git-token",
              apiUrl: `${azure.url}/contoso`,
            },
          },
        },
      },
    });
    expect(created.status, await created.clone().text()).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await waitForRun(rt, id, 120_000)).status).toBe("succeeded");
    expect(azure.violations).toEqual([]);

    // The export follows the run's end from its outbox: wait for its root, generously.
    const deadline = Date.now() + 90_000;
    while (!collector.spans.some((s) => s.name === "factory.run.execute" && s.runId === id)) {
      if (Date.now() > deadline) throw new Error(`no root span for ${id}; got ${collector.spans.length} spans`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const spans = new Map<string, ReceivedSpan>(
      collector.spans.filter((s) => s.traceId === TRACE_ID).map((s) => [s.spanId, s]),
    );
    const named = (traceparents: string[]) => traceparents.map((t) => spans.get(parentOf(t))?.name);

    expect(git.traceparents.length).toBeGreaterThan(0);
    expect(new Set(named(git.traceparents))).toEqual(new Set(["factory.external.git"]));
    expect(azure.traceparents.length).toBeGreaterThan(0);
    // A loopback host is no dev.azure.com: its calls are named for a generic git host.
    expect(new Set(named(azure.traceparents))).toEqual(new Set(["factory.external.git-host"]));
    // Each external span hangs under the delivering attempt's job span (a smart-HTTP exchange may
    // take several requests, a 401 challenge and its answer say: they share their exchange's span).
    for (const t of [...git.traceparents, ...azure.traceparents]) {
      const external = spans.get(parentOf(t))!;
      expect(spans.get(external.parentSpanId)?.name).toBe("factory.job.execute");
    }
  }, 240_000);
});
