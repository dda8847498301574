/** The AI agents pool: generation and review through the configured model provider, metered. */
import * as AGENT from "../../../schema/jobs/agent";
import { NonRetryableError } from "../../errors";
import { defineJob } from "../job";

export const generate = defineJob(AGENT.generate, async ({ input, ai, artifacts }) => {
  const c = await ai.complete({
    prompt: input.prompt,
    maxTokens: input.maxTokens,
    ...(input.system ? { system: input.system } : {}),
    ...(input.model ? { model: input.model } : {}),
  });
  if (input.artifact) await artifacts.put(input.artifact, c.text, "text/plain; charset=utf-8");
  // A long answer lives in its artifact; the output keeps a bounded excerpt for dependents.
  return {
    text: c.text.slice(0, 64_000),
    artifact: input.artifact ?? null,
    model: c.model,
    tokensIn: c.tokensIn,
    tokensOut: c.tokensOut,
  };
});

export const review = defineJob(AGENT.review, async ({ input, upstream, ai }) => {
  const content = input.content ?? JSON.stringify(upstream).slice(0, 100_000);
  const c = await ai.complete({
    system:
      'You review generated software. Answer only with JSON: {"verdict": "approve" | "changes", "comments": [string]}.',
    prompt: `Criteria:\n${input.criteria.map((k) => `- ${k}`).join("\n")}\n\nContent:\n${content}`,
    maxTokens: 1_024,
    json: true,
    ...(input.model ? { model: input.model } : {}),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(c.text);
  } catch {
    throw new NonRetryableError("agent.malformed_output", `the model's review is not JSON: ${c.text.slice(0, 120)}`);
  }
  const verdict = AGENT.Verdict.safeParse(parsed);
  if (!verdict.success)
    throw new NonRetryableError(
      "agent.malformed_output",
      `the model's review does not fit {verdict, comments}: ${verdict.error.issues[0]?.message}`,
    );
  return { ...verdict.data, model: c.model, tokensIn: c.tokensIn, tokensOut: c.tokensOut };
});
