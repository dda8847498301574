/** The shape of bench/results/*.json, shared by the harness and the report. */
import type { SystemName, Workload } from "./systems.ts";

export interface Cell {
  id: string;
  title: string;
  group: "chain" | "fan" | "blueprint";
  workload: Workload;
  /** Runs submitted at once. */
  runs: number;
}

export interface SystemFigures {
  reps: number;
  /** Medians over repetitions; a repetition's window is first creation to last finish, server time. */
  stepsPerSec: number;
  runsPerSec: number;
  msPerStep: number;
  /** Per-run submission-to-terminal durations, pooled over repetitions. */
  latencyMs: { p50: number; p95: number; p99: number; samples: number };
  /** CPU (user + system) of the system's workerd processes during the cell, per step. */
  cpuMsPerStep: number;
  peakRssMB: number;
  failedRuns: number;
}

export interface CellResult extends Cell {
  systems: Partial<Record<SystemName, SystemFigures>>;
}

export interface LoadResult {
  rate: number;
  seconds: number;
  requests: number;
  /** Requests answered per second: below `rate` when answers came too slowly for the connections. */
  achievedRate: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p90: number; p97_5: number; p99: number; max: number };
  cpuMsPerRequest: number;
  peakRssMB: number;
}

export interface Results {
  date: string;
  mode: "quick" | "full";
  repetitions: number;
  machine: {
    cpuModel: string;
    nproc: number;
    memGiB: number;
    loadavgAtStart: number[];
    loadavgAtEnd: number[];
    node: string;
    wrangler: string;
    workerd: string;
    commit: string;
  };
  wallSeconds: number;
  otherProcessesCores: number;
  cells: CellResult[];
  load: Partial<Record<SystemName, LoadResult>>;
}
