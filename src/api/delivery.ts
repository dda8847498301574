/**
 * Run creation's check of delivery steps (docs/delivery.md): the Git remote and REST API URLs they
 * name must pass the SSRF guard now, so an internal address is a 400 before anything runs (the
 * step checks them again when it runs, as names may resolve differently by then).
 */
import type { ResolvedStep } from "../../schema/run";
import type { Env } from "../env";
import { checkUrl } from "./webhooks";

const URL_FIELDS = ["url", "apiUrl"] as const;

/** True when some step delivers (costs nothing otherwise). */
export const delivers = (steps: readonly ResolvedStep[]) => steps.some((s) => s.pool === "delivery");

export async function checkDeliveryUrls(env: Env, steps: readonly ResolvedStep[]): Promise<void> {
  for (const [i, step] of steps.entries()) {
    if (step.pool !== "delivery") continue;
    for (const field of URL_FIELDS) {
      const value = (step.input as Record<string, unknown>)[field];
      if (typeof value === "string") await checkUrl(env, value, `steps[${i}].input.${field}`);
    }
  }
}
