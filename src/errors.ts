/**
 * One error model for the whole runtime. Class identity does not survive RPC or a queue, so
 * the stable `code` (and the retry semantics next to it) is what travels; `toJSON()` is the
 * wire form and `fromUnknown()` rebuilds the semantics on the other side.
 */
import type { ErrorShape, FieldError } from "../schema/problems";

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly errors: FieldError[] | undefined;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; retryable?: boolean; retryAfterMs?: number; errors?: FieldError[]; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.status = opts.status ?? 500;
    this.retryable = opts.retryable ?? true;
    this.retryAfterMs = opts.retryAfterMs;
    this.errors = opts.errors;
  }

  toJSON(): ErrorShape {
    const shape: ErrorShape = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.retryAfterMs !== undefined) shape.retryAfterMs = this.retryAfterMs;
    return shape;
  }
}

/** A failure that retrying cannot fix: the step fails at once. */
export class NonRetryableError extends AppError {
  constructor(code: string, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(code, message, { ...opts, retryable: false });
    this.name = "NonRetryableError";
  }
}

/** A transient failure that names when to try again (an upstream 429's Retry-After, say). */
export class RetryAfterError extends AppError {
  constructor(code: string, message: string, retryAfterMs: number, opts: { cause?: unknown } = {}) {
    super(code, message, { ...opts, retryable: true, retryAfterMs });
    this.name = "RetryAfterError";
  }
}

/** Client errors of the API: never retried, always mapped to a 4xx problem. */
export const problems = {
  invalid: (message: string, errors?: FieldError[]) =>
    new AppError("request.invalid", message, { status: 400, retryable: false, errors }),
  malformedJson: () =>
    new AppError("request.malformed_json", "The body is not valid JSON.", { status: 400, retryable: false }),
  tooLarge: (limit: number) =>
    new AppError("request.too_large", `The body exceeds ${limit} bytes.`, { status: 413, retryable: false }),
  unauthenticated: () =>
    new AppError("auth.unauthenticated", "A valid API key is required: Authorization: Bearer <key>.", {
      status: 401,
      retryable: false,
    }),
  forbidden: (code: string, message: string) => new AppError(code, message, { status: 403, retryable: false }),
  notFound: (code: string, message: string) => new AppError(code, message, { status: 404, retryable: false }),
  conflict: (code: string, message: string) => new AppError(code, message, { status: 409, retryable: false }),
  unprocessable: (code: string, message: string, errors?: FieldError[]) =>
    new AppError(code, message, { status: 422, retryable: false, errors }),
} as const;

/** Rebuilds retry semantics from anything thrown (or received over RPC/queue). */
export function toErrorShape(err: unknown): ErrorShape {
  if (err instanceof AppError) return err.toJSON();
  // An Error may carry our fields after crossing an RPC boundary; a plain object may be a shape.
  // Either way copy the fields: an Error's message is not enumerable and would not survive JSON.
  const e = err as Partial<ErrorShape> | null;
  if (typeof e === "object" && e !== null && typeof e.code === "string" && typeof e.retryable === "boolean") {
    const message = typeof e.message === "string" ? e.message : e.code;
    const shape: ErrorShape = { code: e.code, message, retryable: e.retryable };
    if (typeof e.retryAfterMs === "number") shape.retryAfterMs = e.retryAfterMs;
    return shape;
  }
  if (err instanceof Error) return { code: "step.error", message: err.message || err.name, retryable: true };
  return { code: "step.error", message: String(err), retryable: true };
}

/** Size of a string as UTF-8 bytes: what limits named in bytes measure. */
export const utf8Bytes = (text: string): number => new TextEncoder().encode(text).byteLength;
