/**
 * Model providers for agent steps: a deterministic offline provider (the local default: no
 * network, no key), any OpenAI-compatible HTTP endpoint, and the Workers AI binding. Every
 * provider error is classified for the step's retry policy: 429 waits for Retry-After, 5xx and
 * timeouts retry, other 4xx fail, and output that is not what was asked for fails with the reason.
 */
import type { Env } from "../../env";
import { AppError, NonRetryableError, RetryAfterError } from "../../errors";
import { sha256Hex } from "../../lib/crypto";
import { parseRetryAfter } from "../../lib/retry-after";

export interface CompletionRequest {
  system?: string;
  prompt: string;
  model?: string;
  maxTokens: number;
  /** Ask for a JSON object (review verdicts). */
  json?: boolean;
  signal: AbortSignal;
  /** The attempt's W3C traceparent: the provider's side of the call joins the run's trace. */
  traceparent?: string;
}

export interface Completion {
  text: string;
  model: string;
  tokensIn: number;
  tokensOut: number;
}

export interface Provider {
  name: string;
  complete(request: CompletionRequest): Promise<Completion>;
}

/** A rough token count (4 characters a token) for providers that report none. */
export const estimateTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/** The error a provider's HTTP answer means for the step. Pure. */
export function classifyHttp(status: number, retryAfter: string | null, excerpt: string): AppError {
  const detail = `provider answered ${status}${excerpt ? `: ${excerpt.slice(0, 200)}` : ""}`;
  if (status === 429)
    return new RetryAfterError("agent.rate_limited", detail, parseRetryAfter(retryAfter, Date.now()) ?? 5_000);
  if (status >= 500) return new AppError("agent.upstream_error", detail, { retryable: true });
  return new NonRetryableError("agent.request_refused", detail);
}

export const offline: Provider = {
  name: "offline",
  async complete({ system, prompt, model, json }) {
    const digest = (await sha256Hex(`${system ?? ""}\n${prompt}`)).slice(0, 12);
    const [firstLine = ""] = prompt.split("\n");
    const text = json
      ? JSON.stringify({ verdict: "approve", comments: [`offline review ${digest}: no findings`] })
      : `// Offline completion ${digest}\n// Prompt: ${firstLine.slice(0, 120)}\nexport const generated = ${JSON.stringify(digest)};\n`;
    return {
      text,
      model: model ?? "offline-1",
      tokensIn: estimateTokens(`${system ?? ""}${prompt}`),
      tokensOut: estimateTokens(text),
    };
  },
};

export function openAiCompatible(
  baseUrl: string,
  apiKey: string | undefined,
  defaultModel: string,
  fetchImpl: typeof fetch = fetch,
): Provider {
  return {
    name: "openai",
    async complete({ system, prompt, model, maxTokens, json, signal, traceparent }) {
      let res: Response;
      try {
        res = await fetchImpl(`${baseUrl.replace(/\/+$/, "")}/chat/completions`, {
          method: "POST",
          signal,
          headers: {
            "content-type": "application/json",
            ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
            ...(traceparent ? { traceparent } : {}),
          },
          body: JSON.stringify({
            model: model ?? defaultModel,
            max_tokens: maxTokens,
            messages: [...(system ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }],
            ...(json ? { response_format: { type: "json_object" } } : {}),
          }),
        });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw new AppError("agent.unavailable", `provider unreachable: ${String(err)}`, { retryable: true });
      }
      const text = await res.text();
      if (!res.ok) throw classifyHttp(res.status, res.headers.get("retry-after"), text);
      let body: {
        model?: string;
        choices?: { message?: { content?: unknown } }[];
        usage?: { prompt_tokens?: number; completion_tokens?: number };
      };
      try {
        body = JSON.parse(text);
      } catch {
        throw new NonRetryableError("agent.malformed_output", "the provider's answer is not JSON");
      }
      const content = body.choices?.[0]?.message?.content;
      if (typeof content !== "string")
        throw new NonRetryableError(
          "agent.malformed_output",
          "the provider's answer has no choices[0].message.content",
        );
      return {
        text: content,
        model: body.model ?? model ?? defaultModel,
        tokensIn: body.usage?.prompt_tokens ?? estimateTokens(prompt),
        tokensOut: body.usage?.completion_tokens ?? estimateTokens(content),
      };
    },
  };
}

export function workersAi(ai: Ai | undefined, defaultModel: string): Provider {
  return {
    name: "workers-ai",
    async complete({ system, prompt, model, maxTokens }) {
      if (!ai) throw new NonRetryableError("agent.provider_unavailable", "no Workers AI binding (AI) is configured");
      const messages = [...(system ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }];
      let result: { response?: unknown; usage?: { prompt_tokens?: number; completion_tokens?: number } };
      try {
        result = (await ai.run(model ?? defaultModel, { messages, max_tokens: maxTokens } as never)) as typeof result;
      } catch (err) {
        throw new AppError("agent.upstream_error", `Workers AI failed: ${String(err)}`, { retryable: true });
      }
      if (typeof result.response !== "string")
        throw new NonRetryableError("agent.malformed_output", "Workers AI returned no text response");
      return {
        text: result.response,
        model: model ?? defaultModel,
        tokensIn: result.usage?.prompt_tokens ?? estimateTokens(prompt),
        tokensOut: result.usage?.completion_tokens ?? estimateTokens(result.response),
      };
    },
  };
}

/**
 * The external dependency a call to the configured provider is: its endpoint and model, each
 * with its own circuit breaker. Null for the offline provider, which has nothing to fail.
 */
export function providerDependency(env: Env, model: string | undefined): string | null {
  const chosen = model ?? env.AI_MODEL ?? "offline-1";
  switch (env.AI_PROVIDER ?? "offline") {
    case "openai":
      return env.OPENAI_BASE_URL ? `ai:openai:${env.OPENAI_BASE_URL.replace(/\/+$/, "")}:${chosen}` : null;
    case "workers-ai":
      return `ai:workers-ai:${chosen}`;
    default:
      return null;
  }
}

/** Errors that mean the provider is failing (not that it refused this request): they count against its breaker. */
export const PROVIDER_FAILURES: ReadonlySet<string> = new Set([
  "agent.upstream_error",
  "agent.unavailable",
  "step.timeout",
]);

/** The provider the environment configures (AI_PROVIDER), offline by default. */
export function providerFor(env: Env): Provider {
  const model = env.AI_MODEL ?? "offline-1";
  switch (env.AI_PROVIDER ?? "offline") {
    case "openai":
      if (!env.OPENAI_BASE_URL)
        throw new NonRetryableError("agent.provider_unavailable", "AI_PROVIDER=openai needs OPENAI_BASE_URL");
      return openAiCompatible(env.OPENAI_BASE_URL, env.OPENAI_API_KEY, model);
    case "workers-ai":
      return workersAi(env.AI, model);
    default:
      return offline;
  }
}
