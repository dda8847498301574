/**
 * The API request that creates or controls a run, as the run's event records it: the run's trace
 * then has an `http.server` span for it (src/control/run/spans.ts), named and attributed by the
 * OpenTelemetry HTTP semantic conventions. Only a request that changed the run is recorded (a
 * refused one writes no event), so its status is the one its route answers on success.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { HttpRequestRecord } from "../../schema/run";
import type { AppEnv } from "./common";

/** First of all middleware: the request's arrival. */
export const requestClock: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set("startedAt", Date.now());
  await next();
};

export function httpRequest(c: Context<AppEnv>, route: string, status: number): HttpRequestRecord {
  return { method: c.req.method, route, startMs: c.get("startedAt") ?? Date.now(), status };
}
