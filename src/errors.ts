/**
 * One error model for the whole runtime. Class identity does not survive RPC or a queue, so
 * the stable `code` (and the retry semantics next to it) is what travels; `toJSON()` is the
 * wire form and `toErrorShape()` rebuilds the semantics on the other side. Codes, their HTTP
 * status and retryability are the registry's (schema/errors.ts).
 */
import type { ErrorShape, FieldError, ProblemExtensions } from "../schema/errors";
import { ERRORS, httpStatus, type ErrorCode, type Refusal } from "../schema/errors";

export class AppError extends Error {
  readonly code: ErrorCode;
  /** From the registry: the throw site names what went wrong, not how the API answers it. */
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly errors: FieldError[] | undefined;
  readonly extensions: ProblemExtensions | undefined;

  /** Without a message, the code's title is the message. */
  constructor(
    code: ErrorCode,
    message: string = ERRORS[code].title,
    opts: {
      retryable?: boolean;
      retryAfterMs?: number;
      errors?: FieldError[];
      extensions?: ProblemExtensions;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.status = httpStatus(code);
    this.retryable = opts.retryable ?? ERRORS[code].retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.errors = opts.errors;
    this.extensions = opts.extensions;
  }

  /** The one mapping from a Durable Object's refusal to the API's answer. */
  static from(refusal: Refusal): AppError {
    const { code, message, retryAfterMs, extensions } = refusal;
    return new AppError(code, message, {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(extensions ? { extensions } : {}),
    });
  }

  toJSON(): ErrorShape {
    const shape: ErrorShape = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.retryAfterMs !== undefined) shape.retryAfterMs = this.retryAfterMs;
    return shape;
  }
}

/** A failure that retrying cannot fix: the step fails at once. */
export class NonRetryableError extends AppError {
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(code, message, { ...opts, retryable: false });
    this.name = "NonRetryableError";
  }
}

/** A transient failure that names when to try again (an upstream 429's Retry-After, say). */
export class RetryAfterError extends AppError {
  constructor(code: ErrorCode, message: string, retryAfterMs: number, opts: { cause?: unknown } = {}) {
    super(code, message, { ...opts, retryable: true, retryAfterMs });
    this.name = "RetryAfterError";
  }
}

/**
 * The step needs a dependency whose circuit breaker is open: it is held (not attempted, not
 * charged an attempt) and tried again after `retryAfterMs`.
 */
export class CircuitOpenError extends RetryAfterError {
  readonly dependency: string;

  constructor(dependency: string, retryAfterMs: number) {
    super("dependency.circuit_open", `the circuit breaker of '${dependency}' is open`, retryAfterMs);
    this.name = "CircuitOpenError";
    this.dependency = dependency;
  }

  override toJSON(): ErrorShape {
    return { ...super.toJSON(), dependency: this.dependency };
  }
}

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
    if (typeof e.dependency === "string") shape.dependency = e.dependency.slice(0, 300);
    return shape;
  }
  if (err instanceof Error) return { code: "step.error", message: err.message || err.name, retryable: true };
  return { code: "step.error", message: String(err), retryable: true };
}

/** Size of a string as UTF-8 bytes: what limits named in bytes measure. */
export const utf8Bytes = (text: string): number => new TextEncoder().encode(text).byteLength;
