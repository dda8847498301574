import { describe, expect, it } from "vitest";
import { classifyHttp, offline, openAiCompatible } from "../../src/data/agents/providers";
import { toErrorShape } from "../../src/errors";

const signal = new AbortController().signal;
const reply =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers });

describe("provider error classification", () => {
  it.each([
    [429, "7", { code: "agent.rate_limited", retryable: true, retryAfterMs: 7_000 }],
    [500, null, { code: "agent.upstream_error", retryable: true }],
    [503, null, { code: "agent.upstream_error", retryable: true }],
    [400, null, { code: "agent.request_refused", retryable: false }],
    [401, null, { code: "agent.request_refused", retryable: false }],
  ] as const)("%i → %o", (status, retryAfter, shape) => {
    expect(toErrorShape(classifyHttp(status, retryAfter, "x"))).toMatchObject(shape);
  });
});

describe("the OpenAI-compatible provider", () => {
  const call = (fetchImpl: typeof fetch) =>
    openAiCompatible("http://model.test/v1/", "sk-test", "m-1", fetchImpl).complete({
      prompt: "hi",
      maxTokens: 5,
      signal,
    });

  it("returns the text and the provider's own token counts, sending the key and the model", async () => {
    let sent: { url: string; auth: string | null; body: { model: string; messages: unknown[] } } | null = null;
    const result = await call(async (url, init) => {
      sent = {
        url: String(url),
        auth: new Headers(init?.headers).get("authorization"),
        body: JSON.parse(String(init?.body)),
      };
      return new Response(
        JSON.stringify({
          model: "m-1",
          choices: [{ message: { content: "hello" } }],
          usage: { prompt_tokens: 11, completion_tokens: 3 },
        }),
      );
    });
    expect(result).toEqual({ text: "hello", model: "m-1", tokensIn: 11, tokensOut: 3 });
    expect(sent).toMatchObject({
      url: "http://model.test/v1/chat/completions",
      auth: "Bearer sk-test",
      body: { model: "m-1", messages: [{ role: "user", content: "hi" }] },
    });
  });

  it("classifies failures: 429 waits, 5xx retries, 4xx fails, a malformed answer fails with the reason", async () => {
    await expect(call(reply(429, "slow down", { "retry-after": "2" }))).rejects.toMatchObject({
      code: "agent.rate_limited",
      retryAfterMs: 2_000,
    });
    await expect(call(reply(502, "bad gateway"))).rejects.toMatchObject({
      code: "agent.upstream_error",
      retryable: true,
    });
    await expect(call(reply(404, "no such model"))).rejects.toMatchObject({
      code: "agent.request_refused",
      retryable: false,
    });
    await expect(call(reply(200, "<html>"))).rejects.toMatchObject({
      code: "agent.malformed_output",
      retryable: false,
    });
    await expect(call(reply(200, { choices: [] }))).rejects.toMatchObject({ code: "agent.malformed_output" });
    await expect(
      call(async () => {
        throw new TypeError("connection refused");
      }),
    ).rejects.toMatchObject({ code: "agent.unavailable", retryable: true });
  });
});

describe("the offline provider", () => {
  it("is deterministic and counts tokens", async () => {
    const a = await offline.complete({ prompt: "write a function", maxTokens: 10, signal });
    const b = await offline.complete({ prompt: "write a function", maxTokens: 10, signal });
    expect(a).toEqual(b);
    expect(a.tokensIn).toBeGreaterThan(0);
    expect(a.tokensOut).toBeGreaterThan(0);
    const review = await offline.complete({ prompt: "review this", maxTokens: 10, json: true, signal });
    expect(JSON.parse(review.text)).toMatchObject({ verdict: "approve" });
  });
});
