/**
 * Span ids every layer agrees on without telling each other (docs/telemetry.md): a span's id is
 * 8 bytes of SHA-256 over its run's id and what the span is, so the exporter (from the run's
 * records) and a job's outgoing calls (a `traceparent` naming the attempt's span) name the same
 * span, and an export repeated after a kill sends the same ids.
 */
import { hash } from "fast-sha256";
import { toHex } from "./crypto";

const utf8 = new TextEncoder();

export function spanIdOf(runId: string, what: string): string {
  return toHex(hash(utf8.encode(`${runId}|${what}`))).slice(0, 16);
}

/** What an attempt's span is called, in `spanIdOf`. */
export const attemptSpan = (stepId: string, attempt: number): string => `attempt:${stepId}:${attempt}`;

/** A W3C traceparent naming `spanId` as the caller's span. */
export const traceparentOf = (traceId: string, spanId: string): string => `00-${traceId}-${spanId}-01`;

/** What the n-th outgoing call of an attempt is called, in `spanIdOf` (its parent: the attempt's span). */
export const externalSpan = (stepId: string, attempt: number, n: number): string =>
  `external:${stepId}:${attempt}:${n}`;

/**
 * Runs one outgoing call as a `factory.external.{service}` span: `fn` gets the `traceparent` to
 * send (naming that span), and the call's timing is recorded. `untraced` runs it bare.
 */
export type ExternalCall = <T>(service: string, fn: (traceparent: string | undefined) => Promise<T>) => Promise<T>;
export const untraced: ExternalCall = (_service, fn) => fn(undefined);
