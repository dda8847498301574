/**
 * The unit of work every benchmark system performs per step (see bench/): SHA-256 of a 1 KiB
 * string built from the previous step's output, so no step can be skipped or reordered.
 * The runtime's `system.hash` job and the benchmark's peer Workers share this one definition.
 */
import { sha256Hex } from "./crypto";

export const WORK_BYTES = 1024;

/**
 * The string a step hashes: `previous` repeated to 1 KiB (an empty `previous` counts as "seed").
 * A fan-in's joined upstream hashes may be longer; they are hashed whole, so every one counts.
 */
export function workMaterial(previous: string): string {
  const base = previous || "seed";
  if (base.length >= WORK_BYTES) return base;
  return base.repeat(Math.ceil(WORK_BYTES / base.length)).slice(0, WORK_BYTES);
}

/** One step's work: the hex SHA-256 of `workMaterial(previous)`. */
export function hashStep(previous: string): Promise<string> {
  return sha256Hex(workMaterial(previous));
}
