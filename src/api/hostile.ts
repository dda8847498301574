/**
 * Request hygiene for everything under /v1, before any handler: a body must be JSON (415
 * otherwise), must parse (400), and must not nest deeper than MAX_JSON_DEPTH (400). Size is
 * bounded earlier by the body limit. Hono caches the parsed body, so handlers do not re-read it.
 */
import type { MiddlewareHandler } from "hono";
import { AppError, problems } from "../errors";
import type { AppEnv } from "./common";

export const MAX_JSON_DEPTH = 32;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Depth of a JSON value (a scalar is 0), without recursion: hostile input cannot blow the stack. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    max = Math.max(max, d + 1);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export const jsonBodies: MiddlewareHandler<AppEnv> = async (c, next) => {
  // PUT carries raw bytes (an external worker's artifact upload), not JSON.
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "DELETE" || c.req.method === "PUT") return next();
  const text = await c.req.text();
  if (text.length === 0) return next();
  if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    throw new AppError("request.unsupported_media_type", "The body must be JSON (Content-Type: application/json).", { status: 415, retryable: false });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw problems.malformedJson();
  }
  if (jsonDepth(value) > MAX_JSON_DEPTH) {
    throw new AppError("request.too_deep", `The body nests deeper than ${MAX_JSON_DEPTH} levels.`, { status: 400, retryable: false });
  }
  await next();
};
