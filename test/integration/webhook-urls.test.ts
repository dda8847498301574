/**
 * The SSRF guard where it acts: the three ways a URL enters (POST /v1/webhooks, PATCH of its url,
 * a run's callback.url), what gets stored, name resolution with its cache, and the check again
 * at delivery. The tests' environment is development ("test"); names resolve with the loopback
 * DoH server vitest.config.ts starts.
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { attemptDelivery } from "../../src/webhooks/deliver";
import { resolvePublicName } from "../../src/outbound/resolve";
import { api } from "../support/api";
import { FINDINGS, type Row } from "../support/ssrf-findings";

afterEach(() => reset());

const DOH_URL = env.DOH_URL!;
const hook = { url: "https://hooks.example.com/factory", eventTypes: ["run.*"] };
const run = (callbackUrl: string) => ({
  project: "p",
  callback: { url: callbackUrl },
  steps: [{ id: "a", type: "system.echo", input: {} }],
});
/** What development does with a finding: refuse it, or store this canonical URL. */
const inDevelopment = (row: Row) => row[2] ?? row[1];

async function problem(
  res: Response,
): Promise<{ code: string; title: string; errors: { path: string; message: string }[] }> {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  return (await res.json()) as { code: string; title: string; errors: { path: string; message: string }[] };
}

describe("every finding, on every channel", () => {
  it.each(FINDINGS.map((r) => [r[0], r] as const))("%j", async (_input, row) => {
    const [input] = row;
    const expected = inDevelopment(row);
    const { id } = (await (await api("/v1/webhooks", { method: "POST", json: hook })).json()) as { id: string };

    const created = await api("/v1/webhooks", { method: "POST", json: { ...hook, url: input } });
    const patched = await api(`/v1/webhooks/${id}`, { method: "PATCH", json: { url: input } });
    const ran = await api("/v1/runs", { method: "POST", json: run(input) });

    if (typeof expected === "string") {
      expect(created.status).toBe(201);
      expect(((await created.json()) as { url: string }).url).toBe(expected);
      expect(((await patched.json()) as { url: string }).url).toBe(expected);
      expect(ran.status).toBe(202);
      return;
    }
    for (const [res, field] of [
      [created, "url"],
      [patched, "url"],
      [ran, "callback.url"],
    ] as const) {
      expect(res.status).toBe(400);
      const body = await problem(res);
      expect(body.code).toBe("request.invalid");
      expect(body.errors).toEqual([{ path: field, message: expect.any(String) }]);
    }
    // Nothing was created or changed by the refusals.
    const listed = ((await (await api("/v1/webhooks")).json()) as { items: { id: string; url: string }[] }).items;
    expect(listed).toEqual([expect.objectContaining({ id, url: hook.url })]);
    expect(((await (await api("/v1/runs?project=p")).json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe("the canonical form is what is stored", () => {
  it("on create, on PATCH and for a run's callback", async () => {
    const created = await api("/v1/webhooks", {
      method: "POST",
      json: { ...hook, url: "HTTPS://Hooks.EXAMPLE.com.:443/a/../b?x=1" },
    });
    const { id, url } = (await created.json()) as { id: string; url: string };
    expect(url).toBe("https://hooks.example.com/b?x=1");
    expect(((await (await api(`/v1/webhooks/${id}`)).json()) as { url: string }).url).toBe(url);

    const patched = await api(`/v1/webhooks/${id}`, { method: "PATCH", json: { url: "https://bücher.example.com./" } });
    expect(((await patched.json()) as { url: string }).url).toBe("https://xn--bcher-kva.example.com/");

    const ran = (await (await api("/v1/runs", { method: "POST", json: run("http://[0:0::1]:9411/cb") })).json()) as {
      callback: { endpointId: string };
    };
    expect(((await (await api(`/v1/webhooks/${ran.callback.endpointId}`)).json()) as { url: string }).url).toBe(
      "http://[::1]:9411/cb",
    );
  });

  it("a name that resolves to a private address is refused with the address in the reason", async () => {
    const body = await problem(
      await api("/v1/webhooks", { method: "POST", json: { ...hook, url: "https://cname-private.example.org/x" } }),
    );
    expect(body.errors).toEqual([
      { path: "url", message: "cname-private.example.org resolves to 10.0.0.5, a private or reserved address" },
    ]);
  });

  it("a resolver that fails refuses the URL (400 with the reason), never passes it", async () => {
    const body = await problem(
      await api("/v1/webhooks", { method: "POST", json: { ...hook, url: "https://servfail.example.org/" } }),
    );
    expect(body.title).toBe(
      "The webhook URL is refused: servfail.example.org could not be resolved: the resolver answered status 2.",
    );
  });
});

describe("name resolution", () => {
  const queries = async (name: string) =>
    ((await (await fetch(new URL(`/queries?name=${name}`, DOH_URL))).json()) as { count: number }).count;

  it("asks for A and AAAA once, then answers from the cache until the TTL runs out", async () => {
    const name = "long-ttl.example.org"; // TTL of a day, clamped to five minutes
    const now = Date.now();
    const before = await queries(name);
    expect(await resolvePublicName(name, DOH_URL, now)).toEqual({ ok: true, addresses: ["8.8.8.8"] });
    expect(await resolvePublicName(name, DOH_URL, now + 299_000)).toMatchObject({ ok: true });
    expect(await queries(name)).toBe(before + 2);
    expect(await resolvePublicName(name, DOH_URL, now + 301_000)).toMatchObject({ ok: true });
    expect(await queries(name)).toBe(before + 4);
  });

  it("caches a TTL of 0 for one second, not for ever and not never", async () => {
    const name = "short-ttl.example.org";
    const now = Date.now();
    const before = await queries(name);
    await resolvePublicName(name, DOH_URL, now);
    await resolvePublicName(name, DOH_URL, now + 900);
    expect(await queries(name)).toBe(before + 2);
    await resolvePublicName(name, DOH_URL, now + 1_100);
    expect(await queries(name)).toBe(before + 4);
  });

  it("does not cache a failure", async () => {
    const before = await queries("servfail.example.org");
    await resolvePublicName("servfail.example.org", DOH_URL);
    await resolvePublicName("servfail.example.org", DOH_URL);
    expect(await queries("servfail.example.org")).toBe(before + 4);
  });

  it("an unreachable resolver is a refusal", async () => {
    const result = await resolvePublicName("hooks.example.com", "http://127.0.0.1:1/dns-query");
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^hooks\.example\.com could not be resolved: /),
    });
  });
});

describe("at delivery", () => {
  const task = (url: string) => ({
    deliveryId: "dlv_1",
    eventId: "evt_1",
    url,
    payload: JSON.stringify({ eventId: "evt_1" }),
    secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
  });
  const guard = { policy: { allowLoopbackHttp: true }, dohUrl: DOH_URL };

  it("a stored name that now resolves to a private address is not called: a failed attempt with the reason", async () => {
    const result = await attemptDelivery(task("https://metadata.example.org/hook"), { timeoutMs: 1_000, guard });
    expect(result).toMatchObject({
      statusCode: null,
      excerpt: null,
      error: "refused URL: metadata.example.org resolves to 169.254.169.254, a private or reserved address",
    });
  });

  it("a resolver failure is a failed attempt too (retried on the schedule), not a pass", async () => {
    const result = await attemptDelivery(task("https://hooks.example.com/"), {
      timeoutMs: 1_000,
      guard: { ...guard, dohUrl: "http://127.0.0.1:1/dns-query" },
    });
    expect(result).toMatchObject({
      statusCode: null,
      error: expect.stringMatching(/^refused URL: hooks\.example\.com could not be resolved: /),
    });
  });

  it("a URL stored before the rules tightened is refused by inspection", async () => {
    const result = await attemptDelivery(task("http://localhost:9411/"), { timeoutMs: 1_000, guard });
    expect(result.error).toMatch(/^refused URL: only https URLs are allowed/);
  });
});

describe("resolution is work for a verified key only", () => {
  const queries = async (name: string) =>
    ((await (await fetch(new URL(`/queries?name=${name}`, DOH_URL))).json()) as { count: number }).count;

  it("a run's callback is not resolved for a key that does not verify: 401 first, and nothing created", async () => {
    const name = "unverified-caller.example.com";
    const forged = `frk_dev_zzzzzzzzzzzz_${"a".repeat(40)}`; // well formed, no such key
    const res = await api("/v1/runs", { method: "POST", key: forged, json: run(`https://${name}/hook`) });
    expect((await problem(res)).code).toBe("auth.unauthenticated");
    expect(res.status).toBe(401);
    expect(await queries(name)).toBe(0);
    expect(((await (await api("/v1/runs")).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await api("/v1/runs", { method: "POST", json: run(`https://${name}/hook`) })).status).toBe(202);
    expect(await queries(name)).toBe(2); // A and AAAA, for the verified key
  });
});
