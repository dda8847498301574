/**
 * A signal step's `verify` on its callback URL: the sender's `sha256=<hex>` HMAC of the raw body
 * under a tenant secret (GitHub's X-Hub-Signature-256). A missing or wrong signature is 401 and
 * leaves the step waiting; the right one completes it; the secret's value appears nowhere.
 */
import { reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { api, createRun, events, waitForRun } from "../support/api";

afterEach(() => reset());

const SECRET = "hook-secret-value-0123456789";
async function sign(body: string, secret = SECRET): Promise<string> {
  const utf8 = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function callbackOf(runId: string): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const e = (await events(runId)).find((x) => x.type === "step.waiting");
    if (e) return new URL((e.data as { callbackUrl: string }).callbackUrl, "http://x").pathname;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the step never waited");
}

const post = (path: string, body: string, signature?: string) =>
  api(path, {
    method: "POST",
    key: null,
    body,
    headers: { "content-type": "application/json", ...(signature ? { "x-hub-signature-256": signature } : {}) },
  });

async function problem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

describe("callback URLs with verify", () => {
  it("checks the sender's HMAC of the raw body: missing or wrong is 401 and changes nothing; right completes", async () => {
    expect((await api("/v1/secrets/github-hook", { method: "PUT", json: { value: SECRET } })).status).toBe(201);
    const run = await createRun({
      project: "p",
      steps: [
        {
          id: "wait",
          type: "signal",
          input: {
            name: "push",
            timeoutMs: 3_600_000,
            verify: { header: "X-Hub-Signature-256", secret: { $secret: "github-hook" } },
          },
        },
      ],
    });
    const url = await callbackOf(run.id);
    // Spacing kept as sent: the signature is over the raw bytes, not a re-serialisation.
    const body = '{"ref":"refs/heads/main",  "after":"abc"}';
    await problem(await post(url, body), 401, "callback.bad_signature");
    await problem(await post(url, body, "sha256=deadbeef"), 401, "callback.bad_signature");
    await problem(await post(url, body, await sign(body, "another-secret")), 401, "callback.bad_signature");
    await problem(
      await post(url, body, await sign('{"ref":"refs/heads/main","after":"abc"}')),
      401,
      "callback.bad_signature",
    );
    const view = (await (await api(`/v1/runs/${run.id}`)).json()) as { steps: { status: string }[] };
    expect(view.steps[0]!.status).toBe("waiting");

    const ok = await post(url, body, await sign(body));
    expect(ok.status).toBe(200);
    const done = await waitForRun(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]!.output).toEqual({ ref: "refs/heads/main", after: "abc" });
    // The secret's value is in no event of the run.
    expect(JSON.stringify(await events(run.id))).not.toContain(SECRET);
  });

  it("a run naming a secret the tenant does not hold is refused when made", async () => {
    const res = await api("/v1/runs", {
      method: "POST",
      json: {
        project: "p",
        steps: [
          {
            id: "wait",
            type: "signal",
            input: { name: "push", verify: { header: "X-Hub-Signature-256", secret: { $secret: "nope" } } },
          },
        ],
      },
    });
    await problem(res, 400, "secret.not_found");
  });
});
