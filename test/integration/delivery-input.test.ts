/** Delivery's bad input, inside workerd: refused at creation, or the step fails with its own code. */
import { reset } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { api, createRun, events, waitForRun } from "../support/api";
import { resolveRun } from "../../src/control/resolve";

afterEach(() => reset());
beforeEach(async () => {
  expect((await api("/v1/secrets/pat", { method: "PUT", json: { value: "pat-value-4f1d2c" } })).status).toBe(201);
});

const deliverStep = (input: Record<string, unknown>, dependsOn: string[] = []) => ({
  id: "deliver",
  type: "deliver.git",
  dependsOn,
  input: { fromStep: "make", credential: { $secret: "pat" }, ...input },
});

describe("deliver.git refusals", () => {
  it.each([
    ["a private address", "http://10.0.0.5/repo.git"],
    ["the metadata address", "http://169.254.169.254/repo.git"],
    ["a name that resolves privately", "https://db.corp.example.org/repo.git"],
  ])("refuses %s as the remote at creation (400)", async (_, url) => {
    const res = await api("/v1/runs", { method: "POST", json: { project: "p", steps: [deliverStep({ url })] } });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("request.invalid");
    expect(problem.errors[0]?.path).toBe("steps[0].input.url");
  });

  it("refuses a credential naming a missing secret (400 secret.not_found)", async () => {
    const res = await api("/v1/runs", {
      method: "POST",
      json: {
        project: "p",
        steps: [deliverStep({ url: "https://git.example.com/r.git", credential: { $secret: "nope" } })],
      },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("secret.not_found");
  });

  it("fails the step with delivery.no_artifact when the named step produced no repository", async () => {
    const run = await createRun({
      project: "p",
      steps: [
        { id: "make", type: "system.echo", input: { nothing: true } },
        deliverStep({ url: "https://git.example.com/r.git" }, ["make"]),
      ],
    });
    const done = await waitForRun(run.id);
    const step = done.steps.find((s) => s.id === "deliver");
    expect(step?.status).toBe("failed");
    expect(step?.error?.code).toBe("delivery.no_artifact");
    expect(step?.attempts).toBe(1);
    expect(JSON.stringify(await events(run.id))).not.toContain("pat-value-4f1d2c");
  });
});

describe("blueprints with deliver", () => {
  it("add deliver.git after the package (and the approval gate) and a pipeline step, with $secret references", () => {
    const resolved = resolveRun({
      project: "p",
      blueprint: "microservice",
      input: {
        name: "svc",
        approval: true,
        deliver: {
          git: { url: "https://dev.azure.com/o/p/_git/svc", host: "azure-devops", secret: "pat" },
          azurePipelines: { organization: "o", project: "p", secret: "pat" },
        },
      },
    } as never);
    if (!resolved.ok) throw resolved.error;
    const byId = new Map(resolved.steps.map((s) => [s.id, s]));
    expect(byId.get("package")?.dependsOn).toContain("approval");
    expect(byId.get("deliver")).toMatchObject({
      type: "deliver.git",
      pool: "delivery",
      dependsOn: ["package"],
      input: { fromStep: "package", host: "azure-devops", credential: { $secret: "pat" } },
    });
    expect(byId.get("deliver-pipeline")).toMatchObject({ type: "deliver.azure-pipeline", dependsOn: ["deliver"] });
    // The planner never sees where its result goes.
    expect(byId.get("plan")?.input).not.toHaveProperty("deliver");
  });
});
