/** Tenant secrets: write-only API, sealed at rest, resolved by the consumer, redacted from what steps report. */
import { env } from "cloudflare:workers";
import { reset, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun, events, newTenantKey, waitForRun } from "../support/api";
import { open, seal } from "../../src/secrets/crypto";
import type { SecretsObject } from "../../src/control/secrets/object";

afterEach(() => reset());

const PLANTED = "pat-planted-7f3c9a1e5b2d4c6e8a0b";

const put = (name: string, value: unknown, key?: string) =>
  api(`/v1/secrets/${name}`, { method: "PUT", json: { value }, ...(key ? { key } : {}) });

describe("the secrets API", () => {
  it("needs secrets:manage, which a new key does not get by default", async () => {
    const plain = await newTenantKey("acme");
    const res = await put("azure-pat", PLANTED, plain);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("auth.insufficient_scope");
    expect((await api("/v1/secrets", { key: plain })).status).toBe(403);
    const manager = await newTenantKey("acme", { scopes: ["secrets:manage"] });
    expect((await put("azure-pat", PLANTED, manager)).status).toBe(201);
  });

  it("creates, replaces, lists without values, and deletes", async () => {
    const created = await put("azure-pat", PLANTED);
    expect(created.status).toBe(201);
    const view = (await created.json()) as Record<string, unknown>;
    expect(Object.keys(view).sort()).toEqual(["createdAt", "lastUsedAt", "name", "updatedAt"]);
    expect((await put("azure-pat", `${PLANTED}-2`)).status).toBe(200);
    const list = await api("/v1/secrets");
    const text = await list.text();
    expect(text).not.toContain(PLANTED);
    expect((JSON.parse(text) as { items: { name: string; lastUsedAt: null }[] }).items).toEqual([
      expect.objectContaining({ name: "azure-pat", lastUsedAt: null }),
    ]);
    expect((await api("/v1/secrets/azure-pat", { method: "DELETE" })).status).toBe(204);
    const again = await api("/v1/secrets/azure-pat", { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(((await again.json()) as { code: string }).code).toBe("secret.absent");
  });

  it("refuses a value over 16 KiB, an empty one and a bad name", async () => {
    const big = await put("big", "x".repeat(16 * 1024 + 1));
    expect(big.status).toBe(400);
    expect(((await big.json()) as { code: string }).code).toBe("request.invalid");
    expect((await put("exact", "x".repeat(16 * 1024))).status).toBe(201);
    expect((await put("empty", "")).status).toBe(400);
    expect((await put("Bad Name", "v")).status).toBe(400);
  });

  it("stores only ciphertext, bound to its tenant and name", async () => {
    await put("azure-pat", PLANTED);
    const stub = env.SECRETS.getByName("dev");
    const rows = await runInDurableObject(stub, (_: SecretsObject, state) =>
      state.storage.sql.exec("SELECT * FROM secret").toArray(),
    );
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(PLANTED);
    const sealed = (await stub.take(["azure-pat"]))[0];
    if (!sealed) throw new Error("no sealed value");
    expect((await open(env, "dev", sealed)).value).toBe(PLANTED);
    await expect(open(env, "acme", sealed)).rejects.toMatchObject({ code: "secret.undecryptable" });
    await expect(open(env, "dev", { ...sealed, name: "other" })).rejects.toMatchObject({
      code: "secret.undecryptable",
    });
  });
});

describe("rotation", () => {
  it("opens a value sealed under the previous key and says it is stale; without it, refuses", async () => {
    const sealed = await seal({ SECRETS_KEY: "old-key" }, "acme", "pat", PLANTED);
    const rotated = { SECRETS_KEY: "new-key", SECRETS_KEY_PREVIOUS: "old-key" };
    expect(await open(rotated, "acme", sealed)).toEqual({ value: PLANTED, stale: true });
    expect(await open({ SECRETS_KEY: "old-key" }, "acme", sealed)).toEqual({ value: PLANTED, stale: false });
    await expect(open({ SECRETS_KEY: "new-key" }, "acme", sealed)).rejects.toMatchObject({
      code: "secret.undecryptable",
    });
  });

  it("the consumer re-seals a value the previous key opened under the current key", async () => {
    const stale = await seal({ SECRETS_KEY: "old-key" }, "dev", "pat", PLANTED);
    const stub = env.SECRETS.getByName("dev");
    await stub.put(stale);
    const previous = env.SECRETS_KEY_PREVIOUS;
    env.SECRETS_KEY_PREVIOUS = "old-key";
    try {
      const run = await createRun({
        project: "p",
        steps: [{ id: "a", type: "system.echo", input: { t: { $secret: "pat" } } }],
      });
      expect((await waitForRun(run.id)).status).toBe("succeeded");
    } finally {
      env.SECRETS_KEY_PREVIOUS = previous;
    }
    const now = (await stub.take(["pat"]))[0];
    if (!now) throw new Error("no sealed value");
    expect(now.ciphertext).not.toBe(stale.ciphertext);
    expect((await open({ SECRETS_KEY: env.SECRETS_KEY }, "dev", now)).value).toBe(PLANTED);
  });
});

describe("$secret references in steps", () => {
  it("refuses a run naming a missing secret with 400 secret.not_found, creating nothing", async () => {
    const res = await api("/v1/runs", {
      method: "POST",
      json: { project: "p", steps: [{ id: "a", type: "system.echo", input: { t: { $secret: "nope" } } }] },
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; title: string };
    expect(problem.code).toBe("secret.not_found");
    expect(problem.title).toContain("nope");
    const list = (await (await api("/v1/runs")).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
  });

  it("refuses a reference on an external worker pool's step with 400 secret.external_pool, creating nothing", async () => {
    await put("azure-pat", PLANTED);
    const payload = { token: { $secret: "azure-pat" } };
    const res = await api("/v1/runs", {
      method: "POST",
      json: { project: "p", steps: [{ id: "a", type: "external.task", input: { kind: "build", payload } }] },
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("secret.external_pool");
    expect(problem.errors).toEqual([expect.objectContaining({ path: "steps[0].input" })]);
    expect(JSON.stringify(problem)).not.toContain(PLANTED);
    const list = (await (await api("/v1/runs")).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(0);
    // The same step without the reference is taken.
    const plain = { project: "p", steps: [{ id: "a", type: "external.task", input: { kind: "build" } }] };
    expect((await api("/v1/runs", { method: "POST", json: plain })).status).toBe(202);
  });

  it("resolves a reference for the handler and redacts the value from output and logs", async () => {
    await put("azure-pat", PLANTED);
    const run = await createRun({
      project: "p",
      steps: [
        { id: "a", type: "system.echo", input: { token: { $secret: "azure-pat" }, note: `x${PLANTED}y` } },
        { id: "b", type: "system.echo", input: {}, dependsOn: ["a"] },
      ],
    });
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    // The handler saw the value (echo returned it), and the report carried it only redacted.
    expect(done.steps.find((s) => s.id === "a")?.output).toEqual({ token: "[redacted]", note: "x[redacted]y" });
    const everything = JSON.stringify([done, await events(run.id)]);
    expect(everything).not.toContain(PLANTED);
    const used = (await (await api("/v1/secrets")).json()) as { items: { lastUsedAt: string | null }[] };
    expect(used.items[0]?.lastUsedAt).toEqual(expect.any(String));
  });

  it("fails the step, not retried, when its secret was deleted after the run was created", async () => {
    await put("gone", PLANTED);
    const run = await createRun({
      project: "p",
      steps: [
        { id: "wait", type: "system.sleep", input: { ms: 300 } },
        { id: "a", type: "system.echo", input: { t: { $secret: "gone" } }, dependsOn: ["wait"] },
      ],
    });
    await api("/v1/secrets/gone", { method: "DELETE" });
    const done = await waitForRun(run.id);
    const step = done.steps.find((s) => s.id === "a");
    expect(step?.status).toBe("failed");
    expect(step?.attempts).toBe(1);
    expect(step?.error?.code).toBe("secret.not_found");
  });
});
