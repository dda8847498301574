/** Writing a run's steps into its store: the graph at creation, and steps spawned while it runs. */
import { LIMITS } from "../../../schema/api";
import { must } from "../../lib/must";
import { json } from "../sqlite";
import type { StepRow } from "./rows";
import type { RunStore } from "./store";
import type { ResolvedStep } from "../../../schema/run";
import { stepFlowColumn } from "./step-flow-state";

export function insertStep(
  store: RunStore,
  s: ResolvedStep,
  position: number,
  lineage: { depth: number; spawnedBy: string | null } = { depth: 0, spawnedBy: null },
): void {
  store.insertStep({
    id: s.id,
    position,
    type: s.type,
    pool: s.pool,
    input: json.write(s.input),
    depends_on: json.write(s.dependsOn),
    pending_deps: s.dependsOn.length,
    max_attempts: s.retry.maxAttempts,
    initial_delay_ms: s.retry.initialDelayMs,
    max_delay_ms: s.retry.maxDelayMs,
    timeout_ms: s.timeoutMs,
    heartbeat_timeout_ms: s.heartbeatTimeoutMs ?? null,
    depth: lineage.depth,
    spawned_by: lineage.spawnedBy,
    worker: s.worker ? json.write(s.worker) : null,
    flow: stepFlowColumn(s.flow),
  });
  for (const dep of s.dependsOn) store.insertEdge(dep, s.id);
}

/** Why a step may not add these steps to the run, or null when it may. Changes nothing. */
export function checkSpawn(store: RunStore, parent: StepRow, steps: ResolvedStep[]): string | null {
  if (parent.depth + 1 > LIMITS.spawnDepth) return `spawned steps may be at most ${LIMITS.spawnDepth} deep`;
  if (store.stepCount() + steps.length > LIMITS.stepsPerRun) return `a run has at most ${LIMITS.stepsPerRun} steps`;
  const taken = store.existingStepIds(steps.map((s) => s.id));
  return taken.length > 0 ? `step ids already in the run: ${taken.slice(0, 5).join(", ")}` : null;
}

/**
 * Adds the steps `parent` spawned. They depend on it (released when it succeeds, just after),
 * and everything that waited for `parent` now also waits for all of them: fan-in on the
 * spawned set. Both are written into `depends_on`, so the graph stays self-describing (a retry
 * of the run rebuilds it as it was).
 */
export function addSpawned(store: RunStore, parent: StepRow, steps: ResolvedStep[]): void {
  const first = store.stepCount();
  steps.forEach((s, i) => {
    insertStep(store, { ...s, dependsOn: [...s.dependsOn, parent.id] }, first + i, {
      depth: parent.depth + 1,
      spawnedBy: parent.id,
    });
  });
  const ids = steps.map((s) => s.id);
  for (const waiting of store.dependentsOf(parent.id)) {
    if (ids.includes(waiting)) continue;
    for (const id of ids) store.insertEdge(id, waiting);
    store.addPendingDeps(waiting, ids.length);
    const row = must(store.step(waiting), "the row of a step that waits for the spawning step");
    store.updateStep(waiting, { depends_on: json.write([...(json.read<string[]>(row.depends_on) ?? []), ...ids]) });
  }
}
