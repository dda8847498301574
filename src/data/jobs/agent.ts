/** The AI agents pool: generation and review through the configured model provider, metered. */
import { z } from "zod";
import { ArtifactName } from "../../../schema/api";
import { NonRetryableError } from "../../errors";
import { defineJob } from "../job";

const Usage = { model: z.string(), tokensIn: z.number(), tokensOut: z.number() };

export const generate = defineJob({
  type: "agent.generate",
  pool: "agent",
  description: "Asks the model for text (code, docs); optionally stores it as an artifact. Token usage is metered.",
  input: z
    .object({
      prompt: z.string().min(1).max(50_000),
      system: z.string().max(10_000).optional(),
      model: z.string().max(100).optional(),
      maxTokens: z.number().int().min(1).max(32_000).default(1_024),
      artifact: ArtifactName.optional(),
    })
    .strict(),
  output: z.object({ text: z.string(), artifact: z.string().nullable(), ...Usage }),
  run: async ({ input, ai, artifacts }) => {
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
  },
});

const Verdict = z
  .object({ verdict: z.enum(["approve", "changes"]), comments: z.array(z.string().max(2_000)).max(50) })
  .strict();

export const review = defineJob({
  type: "agent.review",
  pool: "agent",
  description:
    "Asks the model to review content (given, or its dependencies' outputs) against criteria; answers approve or changes.",
  input: z
    .object({
      criteria: z.array(z.string().min(1).max(500)).min(1).max(20),
      content: z.string().max(100_000).optional(),
      model: z.string().max(100).optional(),
    })
    .strict(),
  output: Verdict.extend(Usage),
  run: async ({ input, upstream, ai }) => {
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
    const verdict = Verdict.safeParse(parsed);
    if (!verdict.success)
      throw new NonRetryableError(
        "agent.malformed_output",
        `the model's review does not fit {verdict, comments}: ${verdict.error.issues[0]?.message}`,
      );
    return { ...verdict.data, model: c.model, tokensIn: c.tokensIn, tokensOut: c.tokensOut };
  },
});
