/** Diagnostic jobs of the `system` pool: for tests, chaos drills and benchmarks. */
import * as SYSTEM from "../../../schema/jobs/system";
import { AppError, NonRetryableError, RetryAfterError } from "../../errors";
import { defineJob } from "../job";
import { hashStep } from "../../lib/work";
import { strToU8, zipSync } from "fflate";
import { plantedSecrets } from "./planted";

export const echo = defineJob(SYSTEM.echo, async ({ input }) => input);

/**
 * The benchmark's unit of work (bench/): hashes a 1 KiB string built from its upstream steps'
 * hashes (sorted by step id), or from `seed` at a root, so a chain cannot be short-cut.
 */
export const hash = defineJob(SYSTEM.hash, async ({ input, upstream }) => {
  const previous = Object.keys(upstream)
    .sort()
    .map((id) => (upstream[id] as { hash?: unknown } | null)?.hash)
    .filter((h): h is string => typeof h === "string")
    .join("");
  return { hash: await hashStep(previous || input.seed || "") };
});

/** How often a sleeping step heartbeats: its lease moves and it learns of a cancel. */
const SLEEP_HEARTBEAT_MS = 1_000;

export const sleep = defineJob(SYSTEM.sleep, async ({ input, signal, heartbeat }) => {
  for (let left = input.ms; left > 0; left -= SLEEP_HEARTBEAT_MS) {
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const timer = setTimeout(resolve, Math.min(left, SLEEP_HEARTBEAT_MS));
      const abort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener("abort", abort, { once: true });
    });
    if (left > SLEEP_HEARTBEAT_MS) await heartbeat();
  }
  signal.throwIfAborted();
  return { sleptMs: input.ms };
});

/** Thrown by system.crash: the consumer lets it escape, as if the invocation died before acking. */
export class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
}

export const crash = defineJob(SYSTEM.crash, async ({ input, attempt }) => {
  if (attempt <= input.times) throw new SimulatedCrash(`attempt ${attempt} crashes on purpose`);
  return { attempt };
});

export const fail = defineJob(SYSTEM.fail, async ({ input, attempt }) => {
  if (input.times === -1) throw new NonRetryableError("system.fail", "system.fail always fails (times = -1)");
  if (attempt <= input.times) {
    const message = `attempt ${attempt} of the first ${input.times} fails on purpose`;
    if (input.retryAfterMs) throw new RetryAfterError("system.fail", message, input.retryAfterMs);
    throw new AppError("system.fail", message);
  }
  return { attempt };
});

/** The secret-scanning fixture: planted secrets of each rule family, zipped or one per artifact. */
export const secrets = defineJob(SYSTEM.secrets, async ({ input, artifacts }) => {
  const planted = plantedSecrets();
  if (input.mode === "zip") {
    const files = Object.fromEntries(planted.map((p) => [`fixture/${p.file}`, strToU8(p.content)]));
    await artifacts.put("secrets.zip", zipSync(files), "application/zip");
    return { artifacts: 1 };
  }
  for (const [i, p] of planted.entries()) await artifacts.put(`planted-${i}.txt`, p.content, "text/plain");
  return { artifacts: planted.length };
});

/** Calls the simulated upstream received in this isolate, by how they went (tests count them). */
export const upstreamCalls = { failed: 0, succeeded: 0 };

export const upstream = defineJob(SYSTEM.upstream, async ({ input, attempt }) => {
  if (Date.now() < input.failUntil) {
    upstreamCalls.failed++;
    throw new AppError("step.error", "the simulated upstream answered 503");
  }
  upstreamCalls.succeeded++;
  return { attempt };
});
