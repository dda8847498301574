/**
 * What a `wrangler dev` process tree costs: CPU time (utime + stime from /proc/<pid>/stat) and
 * resident memory of its workerd processes, the ones that run the Worker. wrangler's own Node
 * process only supervises and is left out (it is reported apart, for the record).
 */
import { readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);
const PAGE_BYTES = Number(execFileSync("getconf", ["PAGESIZE"]).toString().trim() || 4096);

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** R, S, D, Z, …: a zombie has exited and holds no CPU or memory. */
  state: string;
  cpuMs: number;
  rssBytes: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text.slice(close + 2).split(" ");
    // f[0] is field 3 (state); utime, stime are fields 14, 15; rss is field 24 (pages).
    return {
      pid,
      ppid: Number(f[1]),
      comm,
      state: f[0] ?? "",
      cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS,
      rssBytes: Number(f[21]) * PAGE_BYTES,
    };
  } catch {
    return null; // exited between listing and reading
  }
}

/** The process and all its descendants. */
export function processTree(root: number): ProcStat[] {
  const all = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .map(readStat)
    .filter((s): s is ProcStat => s !== null);
  const children = new Map<number, ProcStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const queue = all.filter((s) => s.pid === root);
  while (queue.length) {
    const s = queue.shift()!;
    out.push(s);
    queue.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

export interface TreeSample {
  /** CPU of the workerd processes, ms. */
  workerdCpuMs: number;
  workerdRssBytes: number;
  /** CPU of everything else in the tree (wrangler's Node), ms. */
  otherCpuMs: number;
  workerdCount: number;
}

export function sampleTree(root: number): TreeSample {
  const tree = processTree(root);
  const workerd = tree.filter((p) => p.comm.startsWith("workerd"));
  const others = tree.filter((p) => !p.comm.startsWith("workerd"));
  return {
    workerdCpuMs: workerd.reduce((a, p) => a + p.cpuMs, 0),
    workerdRssBytes: workerd.reduce((a, p) => a + p.rssBytes, 0),
    otherCpuMs: others.reduce((a, p) => a + p.cpuMs, 0),
    workerdCount: workerd.length,
  };
}

export interface PeakRss {
  /** The workerd processes, which run the Worker. */
  workerdBytes: number;
  /** The whole tree: workerd, wrangler's Node and esbuild, the same tool for every system. */
  treeBytes: number;
}

/** Samples a tree's RSS every `everyMs` until stopped; returns the peaks. */
export function watchPeakRss(root: number, everyMs = 100): () => PeakRss {
  // The tree is walked once: re-reading all of /proc every sample would load the machine under test.
  const tree = processTree(root);
  const sum = (procs: ProcStat[]) => procs.reduce((a, p) => a + (readStat(p.pid)?.rssBytes ?? 0), 0);
  const workerd = tree.filter((p) => p.comm.startsWith("workerd"));
  const peak: PeakRss = { workerdBytes: 0, treeBytes: 0 };
  const sample = () => {
    const w = sum(workerd);
    peak.workerdBytes = Math.max(peak.workerdBytes, w);
    peak.treeBytes = Math.max(peak.treeBytes, w + sum(tree.filter((p) => !p.comm.startsWith("workerd"))));
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return () => {
    clearInterval(timer);
    sample();
    return { ...peak };
  };
}

/** Those of `pids` that still run (a zombie has exited: it only waits to be reaped). */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    const s = readStat(pid);
    return s !== null && s.state !== "Z";
  });
}
