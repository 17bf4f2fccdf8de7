/**
 * CPU time used by each part of the benchmark (Linux /proc), so that a run can
 * say where the two cores went: the functions process, Postgres (postmaster,
 * live backends and the backends it already reaped), this process (CRM sandbox,
 * sweeper timer) and the load generator.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // CLK_TCK = 100 on Linux

interface ProcTimes { ppid: number; own: number; reapedChildren: number }

function procTimes(pid: number): ProcTimes | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] = field 3 (state)
    return {
      ppid: Number(f[1]),
      own: (Number(f[11]) + Number(f[12])) * TICK_MS,
      reapedChildren: (Number(f[13]) + Number(f[14])) * TICK_MS,
    };
  } catch {
    return null;
  }
}

/** CPU ms of one process (all its threads). */
export function processCpuMs(pid: number | undefined): number {
  return pid ? (procTimes(pid)?.own ?? 0) : 0;
}

/** CPU ms of a postmaster and everything it runs or ran. */
export function postgresCpuMs(postmasterPid: number | undefined): number {
  if (!postmasterPid) return 0;
  const master = procTimes(postmasterPid);
  if (!master) return 0;
  let total = master.own + master.reapedChildren;
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return total;
  }
  for (const pid of pids) {
    const t = procTimes(Number(pid));
    if (t && t.ppid === postmasterPid) total += t.own;
  }
  return total;
}

/** CPU ms the whole machine spent busy (all processes, all cores), from /proc/stat. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6]) * TICK_MS;
  } catch {
    return 0;
  }
}

export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export type CpuSnapshot = Record<string, number>;

export function cpuSnapshot(probes: Record<string, () => number>): CpuSnapshot {
  return Object.fromEntries(Object.entries(probes).map(([name, read]) => [name, read()]));
}

export const MACHINE = "machine";
export const OTHERS = "other processes (not the benchmark)";

/** Per-component deltas; the machine total becomes "other processes" = machine − the benchmark's parts. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const delta: CpuSnapshot = Object.fromEntries(Object.keys(after).map((k) => [k, Math.round(after[k] - (before[k] ?? 0))]));
  if (MACHINE in delta) {
    const ours = Object.entries(delta).filter(([k]) => k !== MACHINE).reduce((n, [, v]) => n + v, 0);
    delta[OTHERS] = Math.max(0, delta[MACHINE] - ours);
    delete delta[MACHINE];
  }
  return delta;
}
