/** Webhook delivery settings from the environment, with production defaults. */

/** The webhooks queue and its dead-letter queue (whose messages get the same handling). */
export const WEBHOOK_QUEUES = ["factory-webhooks", "factory-webhooks-dlq"] as const;
import { numberVar, type Env } from "../env";
import type { DeliveryPolicy } from "../../schema/webhooks";
import { parseSchedule } from "./policy";

export function attemptTimeoutMs(env: Env): number {
  return numberVar(env.WEBHOOK_TIMEOUT_MS, 10_000);
}

export function deliveryPolicy(env: Env): DeliveryPolicy {
  return {
    schedule: parseSchedule(env.WEBHOOK_SCHEDULE_MS),
    disable: {
      failures: numberVar(env.WEBHOOK_DISABLE_AFTER_FAILURES, 20),
      afterMs: numberVar(env.WEBHOOK_DISABLE_AFTER_MS, 24 * 3_600_000),
    },
    // Past the attempt's own timeout, room for the queue trip and the record; a drill that kills
    // the runtime mid-attempt shortens it so that interrupted deliveries come back in seconds.
    inFlightMs: numberVar(env.WEBHOOK_IN_FLIGHT_MS, attemptTimeoutMs(env) + 30_000),
  };
}
