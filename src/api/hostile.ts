/**
 * Request hygiene for everything under /v1, before any handler: the headers the API reads carry
 * no control characters (400); a body must be JSON (415 otherwise), must parse (400), must not
 * nest deeper than MAX_JSON_DEPTH (400) and must not hold a `__proto__` key (400: every later
 * copy of it would silently drop that key, and user data is kept as sent or refused, never
 * changed). Size is bounded earlier by the body limit. Hono caches the parsed body, so handlers do
 * not re-read it.
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "../errors";
import type { AppEnv } from "./common";

export const MAX_JSON_DEPTH = 32;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** The request headers the API reads: nothing else reaches a handler, a log or storage. */
const READ_HEADERS = [
  "authorization",
  "idempotency-key",
  "traceparent",
  "last-event-id",
  "content-type",
  "accept",
] as const;
/** C0 controls but horizontal tab, and DEL: never part of a legitimate header value (RFC 9110 5.5). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: input hygiene; matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export const cleanHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  for (const name of READ_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined && CONTROL.test(value)) {
      throw new AppError("request.invalid", `The ${name} header holds a control character.`, {
        errors: [{ path: `header.${name}`, message: "control characters are not allowed" }],
      });
    }
  }
  await next();
};

/**
 * Depth of a JSON value (a scalar is 0) and the path of its first own `__proto__` key, if any,
 * without recursion: hostile input cannot blow the stack.
 */
export function scanJson(value: unknown): { depth: number; protoKeyAt: string | null } {
  // A node's path is a link to its parent's, spelled out only if a `__proto__` key is found.
  type At = { parent: At; key: string } | null;
  const spell = (at: At): string => (at ? (at.parent ? `${spell(at.parent)}.${at.key}` : at.key) : "");
  let depth = 0;
  let protoKeyAt: string | null = null;
  const stack: [unknown, number, At][] = [[value, 0, null]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, d, at] = top;
    if (typeof v !== "object" || v === null) continue;
    depth = Math.max(depth, d + 1);
    if (Array.isArray(v)) {
      v.forEach((child, i) => {
        stack.push([child, d + 1, { parent: at, key: String(i) }]);
      });
      continue;
    }
    if (protoKeyAt === null && Object.hasOwn(v, "__proto__")) protoKeyAt = spell({ parent: at, key: "__proto__" });
    for (const [key, child] of Object.entries(v)) stack.push([child, d + 1, { parent: at, key }]);
  }
  return { depth, protoKeyAt };
}

export const jsonBodies: MiddlewareHandler<AppEnv> = async (c, next) => {
  // PUT carries raw bytes (an external worker's artifact upload), not JSON.
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "DELETE" || c.req.method === "PUT")
    return next();
  const text = await c.req.text();
  if (text.length === 0) return next();
  if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
    throw new AppError("request.unsupported_media_type");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("request.malformed_json");
  }
  const { depth, protoKeyAt } = scanJson(value);
  if (depth > MAX_JSON_DEPTH) {
    throw new AppError("request.too_deep", `The body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  if (protoKeyAt !== null) {
    throw new AppError("request.invalid", "The body holds a `__proto__` key, which cannot be kept as sent.", {
      errors: [{ path: protoKeyAt, message: "`__proto__` is not allowed as a key" }],
    });
  }
  await next();
};
