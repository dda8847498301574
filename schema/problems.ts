/**
 * The wire forms of errors: a step's error as it travels over RPC, queues and webhooks, and the
 * field errors of a refused request, formatted once from zod's issues for every caller.
 */
import type { z } from "zod";

export interface ErrorShape {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

export interface FieldError {
  path: string;
  message: string;
}

/** zod's issues as field errors, their paths under `prefix` (e.g. `steps[2].input`). */
export function fieldErrors(error: z.ZodError, prefix = ""): FieldError[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
}
