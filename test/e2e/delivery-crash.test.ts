/**
 * kill -9 of the whole runtime in the middle of a delivery, against real parts: `wrangler dev`,
 * `git http-backend`, and the GitHub / Azure DevOps stand-ins. The host takes the request (the
 * pull request is opened, the pipeline run queued) but the runtime dies before it hears the
 * answer; after the restart the step's lease expires, a new attempt runs the whole step again,
 * and it must find the branch, the pull request and the build instead of making second ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { runGit, startGitServer, type GitServer } from "./support/git-server";
import { startAzureFake, startGithubFake, type HostFake } from "./support/host-fakes";
import { startRuntime, waitForRun, type Runtime } from "./support/runtime";

const TOKEN = "gitpat-crash-7d0c2e9b41a84f6e";
let rt: Runtime;
let server: GitServer;
let github: HostFake;
let azure: HostFake;

type Step = { id: string; status: string; attempts: number; output?: Record<string, unknown> };
type RunBody = { id: string; status: string; steps: Step[] };

beforeAll(async () => {
  server = await startGitServer({ user: "factory", password: TOKEN });
  github = await startGithubFake(TOKEN, "acme", "crash-gh");
  azure = await startAzureFake(TOKEN, "contoso", "platform", "crash-svc");
  // Short leases: recovery after the kill takes seconds, not the pool's two minutes.
  rt = await startRuntime({ LEASE_QUEUED_MS: "2000", LEASE_GRACE_MS: "500", RETRY_BASE_MS: "200" });
  expect((await rt.fetch("/v1/secrets/git-token", { method: "PUT", json: { value: TOKEN } })).status).toBe(201);
});
afterAll(async () => {
  await rt?.stop();
  await server?.close();
  await github?.close();
  await azure?.close();
});

/** A library's generation steps, then delivery steps with a short timeout (the running lease). */
function steps(name: string, deliver: Record<string, unknown>, pipeline?: Record<string, unknown>) {
  const retry = { maxAttempts: 4, initialDelayMs: 200, maxDelayMs: 1000 };
  const credential = { $secret: "git-token" };
  return [
    { id: "plan", type: "repo.plan", input: { name, modules: 0 } },
    { id: "library", type: "repo.library", dependsOn: ["plan"] },
    { id: "pipeline", type: "pipeline.github-actions", dependsOn: ["plan"] },
    { id: "package", type: "repo.package", dependsOn: ["library", "pipeline"], input: { name } },
    {
      id: "deliver",
      type: "deliver.git",
      dependsOn: ["package"],
      input: { fromStep: "package", credential, ...deliver },
      timeoutMs: 15_000,
      retry,
    },
    ...(pipeline
      ? [
          {
            id: "deliver-pipeline",
            type: "deliver.azure-pipeline",
            dependsOn: ["deliver"],
            input: { fromStep: "deliver", credential, ...pipeline },
            timeoutMs: 15_000,
            retry,
          },
        ]
      : []),
  ];
}

async function start(body: unknown): Promise<string> {
  const created = await rt.fetch("/v1/runs", { method: "POST", json: { project: "delivery-crash", steps: body } });
  expect(created.status, await created.clone().text()).toBe(202);
  return ((await created.json()) as { id: string }).id;
}

/** Waits for the fake to have taken the held request, failing (not hanging) if it never comes. */
async function arrived(hold: Promise<void>, what: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} never arrived:\n${rt.output().slice(-2000)}`)), 180_000);
  });
  try {
    await Promise.race([hold, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function crashAndRecover(id: string): Promise<RunBody> {
  rt.crash();
  await rt.restart();
  await waitForRun(rt, id, 240_000);
  return (await (await rt.fetch(`/v1/runs/${id}`)).json()) as RunBody;
}

const stepOf = (r: RunBody, id: string) => r.steps.find((s) => s.id === id) as Step;
const branches = (repo: string) =>
  runGit(["--git-dir", join(server.root, repo), "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"])
    .trim()
    .split("\n")
    .filter((l) => l.includes("refs/heads/factory/"));

describe("kill -9 between the push and the pull request's answer", () => {
  it("GitHub: after recovery there is one branch and one pull request", async () => {
    const url = server.repo("acme/crash-gh.git");
    const hold = github.holdNext("POST /repos/acme/crash-gh/pulls");
    const id = await start(steps("crash-gh", { url, host: "github", apiUrl: github.url }));
    await arrived(hold, "the pull request's creation");
    // The push happened before the pull request was asked for.
    expect(branches("acme/crash-gh.git")).toHaveLength(1);

    const r = await crashAndRecover(id);
    expect(r.status, JSON.stringify(r.steps)).toBe("succeeded");
    const deliver = stepOf(r, "deliver");
    expect(deliver.attempts).toBeGreaterThanOrEqual(2);
    const out = deliver.output as { commitSha: string; pushed: boolean; pullRequest: { id: string } };
    expect(out.pullRequest).toEqual({ id: "1", url: `${github.url}/acme/crash-gh/pull/1` });
    expect(branches("acme/crash-gh.git")).toEqual([`refs/heads/factory/${id} ${out.commitSha}`]);
    expect(github.pulls).toHaveLength(1);
    expect(github.calls.filter((c) => c.startsWith("POST "))).toHaveLength(1);
    expect(github.violations).toEqual([]);
  }, 480_000); // above its own bounds (arrival, recovery), which fail it with a message first

  it("Azure DevOps: after recovery one pull request, one pipeline, and one queued build", async () => {
    const url = server.repo("contoso/platform/_git/crash-svc");
    const apiUrl = `${azure.url}/contoso`;
    const hold = azure.holdNext("POST /contoso/platform/_apis/pipelines/");
    const id = await start(
      steps(
        "crash-svc",
        { url, host: "azure-devops", apiUrl },
        { organization: "contoso", project: "platform", apiUrl },
      ),
    );
    await arrived(hold, "the pipeline run's queuing");

    const r = await crashAndRecover(id);
    expect(r.status, JSON.stringify(r.steps)).toBe("succeeded");
    const pushed = stepOf(r, "deliver").output as { commitSha: string };
    const built = stepOf(r, "deliver-pipeline");
    expect(built.attempts).toBeGreaterThanOrEqual(2);
    expect(built.output).toMatchObject({
      commitSha: pushed.commitSha,
      pipeline: { id: "1" },
      build: { id: "1", url: `${apiUrl}/platform/_build/results?buildId=1`, result: null },
    });
    expect(azure.runs).toEqual([{ pipelineId: 1, refName: `refs/heads/factory/${id}`, version: pushed.commitSha }]);
    expect(azure.pulls).toHaveLength(1);
    expect(azure.pipelines).toHaveLength(1);
    expect(branches("contoso/platform/_git/crash-svc")).toHaveLength(1);
    expect(azure.violations).toEqual([]);

    // The external ids are reachable from the pushed artifact's lineage: in the run's manifest
    // and in the project's published version.
    const delivered = [
      {
        stepId: "deliver",
        remoteUrl: url,
        branch: `factory/${id}`,
        commitSha: pushed.commitSha,
        pullRequest: { id: "1", url: `${apiUrl}/platform/_git/crash-svc/pullrequest/1` },
        builds: [
          {
            stepId: "deliver-pipeline",
            pipeline: { id: "1", url: `${apiUrl}/platform/_build/definition?definitionId=1` },
            build: { id: "1", url: `${apiUrl}/platform/_build/results?buildId=1`, result: null },
          },
        ],
      },
    ];
    type Listed = { items: { name: string; stepId?: string; lineage: { stepId: string; delivered?: unknown } }[] };
    const manifest = (await (await rt.fetch(`/v1/runs/${id}/artifacts`)).json()) as Listed;
    const zip = manifest.items.find((a) => a.stepId === "package");
    expect(zip?.lineage.delivered).toEqual(delivered);
    expect(manifest.items.filter((a) => a.lineage.delivered !== undefined)).toHaveLength(1);
    for (let i = 0; ; i++) {
      const versions = (await (await rt.fetch("/v1/projects/delivery-crash/artifacts")).json()) as Listed;
      const version = versions.items.find((v) => v.name === zip?.name);
      if (version) {
        expect(version.lineage.delivered).toEqual(delivered);
        break;
      }
      // The tenant publishes a succeeded run's artifacts from its final sync, which may still be settling.
      if (i > 600) throw new Error(`the package was never published: ${JSON.stringify(versions)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 480_000);
});
