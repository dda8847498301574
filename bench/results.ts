/** The shape of bench/results/*.json, shared by the harness and the report. */
import type { RateResult } from "./load.ts";
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
  /** Medians over repetitions; a repetition's window is the first `POST` sent to the last run seen terminal, client clock. */
  stepsPerSec: number;
  runsPerSec: number;
  msPerStep: number;
  /** The same over the server's own window (first creation to last finish), for comparison only. */
  serverStepsPerSec: number;
  /** Per-run creation-to-finish durations (server timestamps), pooled over repetitions. */
  latencyMs: { p50: number; p95: number; p99: number; samples: number };
  /** CPU (user + system) of the system's workerd processes from the first `POST` until idle again, per step. */
  cpuMsPerStep: number;
  /** Peak resident set of the workerd processes, median over repetitions. */
  peakRssMB: number;
  /** Peak resident set of the whole `wrangler dev` tree (wrangler's Node and esbuild too). */
  peakTreeRssMB: number;
  failedRuns: number;
}

export interface CellResult extends Cell {
  systems: Partial<Record<SystemName, SystemFigures>>;
}

/** One system's answers to the steady load (see `RateResult`), and what serving them cost it. */
export interface LoadResult extends RateResult {
  rate: number;
  seconds: number;
  cpuMsPerRequest: number;
  peakRssMB: number;
}

export interface LoadTest {
  seconds: number;
  searchSeconds: number;
  /** The step search on the floor, lowest rate first, up to the first rate it did not sustain. */
  search: { rate: number; sustained: boolean; answeredInTime: number; sent: number; failed: number; p99: number }[];
  /** The rate offered to every system: the highest the floor sustained (the lowest tried if none). */
  rate: number;
  floorSustains: boolean;
  /** p99 is the median over repetitions of each repetition's p99. */
  systems: Partial<Record<SystemName, { p99: number; reps: LoadResult[] }>>;
}

export interface Results {
  date: string;
  mode: "quick" | "full";
  /** isolated: each system alone on a fresh `wrangler dev` per cell and repetition. */
  method: "isolated";
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
  load: LoadTest | null;
  /** What a finished one-step run's object holds on disk while hot (bench/storage.ts); absent in older results. */
  storage?: { hotOneStepRunDbBytes: number } | null;
}
