/** The AI agents pool: generation and review through the configured model provider, metered. */
import { z } from "zod";
import { ArtifactName } from "../api";
import { declareJob } from "./declare";

const Usage = { model: z.string(), tokensIn: z.number(), tokensOut: z.number() };

/** What a review answers; the model's JSON is checked against it. */
export const Verdict = z
  .object({ verdict: z.enum(["approve", "changes"]), comments: z.array(z.string().max(2_000)).max(50) })
  .strict();

export const generate = declareJob({
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
});

export const review = declareJob({
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
});
