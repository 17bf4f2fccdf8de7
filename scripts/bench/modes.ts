/**
 * The modes compared, and one measured run of a mode: CRM faults set, CPU
 * sampled around the load, everything settled afterwards (outside the timing).
 */
import type { Faults } from "../local/crm-sandbox.ts";
import type { CpuSnapshot } from "./cpu.ts";
import { cpuDelta } from "./cpu.ts";
import type { Bench } from "./environment.ts";
import type { Endpoint, LoadJob, LoadOutcome } from "./load.ts";

export type Target = "off" | "on" | "on5" | "await" | "waituntil";

export interface Mode {
  id: string;
  label: string;
  target: Target;
  crm: Faults["mode"] | "n/a";
  /** Baselines are the study's alternatives, inside the benchmark only. */
  baseline: boolean;
}

export const MODES: Mode[] = [
  { id: "off", label: "bridge off (floor)", target: "off", crm: "n/a", baseline: false },
  { id: "on-ok", label: "bridge on, CRM healthy", target: "on", crm: "ok", baseline: false },
  { id: "on-slow", label: "bridge on, CRM slow (3 s)", target: "on", crm: "slow", baseline: false },
  { id: "on-down", label: "bridge on, CRM down", target: "on", crm: "down", baseline: false },
  { id: "on5-ok", label: "bridge on, 5 destinations healthy", target: "on5", crm: "ok", baseline: false },
  { id: "await-ok", label: "baseline await CRM, healthy", target: "await", crm: "ok", baseline: true },
  { id: "await-slow", label: "baseline await CRM, slow (3 s)", target: "await", crm: "slow", baseline: true },
  { id: "waituntil-ok", label: "baseline waitUntil, healthy", target: "waituntil", crm: "ok", baseline: true },
  { id: "waituntil-slow", label: "baseline waitUntil, slow (3 s)", target: "waituntil", crm: "slow", baseline: true },
];

/** The modes also run open-loop at a fixed rate (the visitor's latency below saturation). */
export const FIXED_RATE_MODES = ["off", "on-ok", "on-slow", "on-down", "waituntil-ok"];

export interface RunRecord {
  mode: string;
  round: number;
  kind: "closed" | "fixed-rate";
  pacedRate?: number;
  outcome: LoadOutcome;
  cpuMs: CpuSnapshot;
  /** Wall time of the settle after the run (deliveries finishing, retries drained). */
  settleMs: number;
  /** For bridge-on healthy runs: CRM receipts matched to their events, for the delivery lag. */
  lagMs?: number[];
}

export function jobFor(bench: Bench, target: Target, extra: Partial<LoadJob> = {}): LoadJob {
  const headers = { authorization: `Bearer ${bench.on.anonKey}`, "content-type": "application/json" };
  const fn = (stackUrl: string) => {
    const u = new URL(stackUrl);
    return { origin: u.origin, startPath: `${u.pathname}/form-start`, submitPath: `${u.pathname}/form-submit` };
  };
  const where =
    target === "off" ? fn(bench.off.functionsUrl)
    : target === "on" ? fn(bench.on.functionsUrl)
    : target === "on5" ? fn(bench.on5.functionsUrl)
    : { origin: bench.baselines.origin, startPath: `/${target}/form-start`, submitPath: `/${target}/form-submit` };
  return { ...where, headers, connections: bench.settings.connections, durationS: bench.settings.seconds, ...extra };
}

export function faultsFor(bench: Bench, mode: Mode): Faults {
  if (mode.crm === "slow") return { mode: "slow", delayMs: bench.settings.crmSlowMs };
  if (mode.crm === "n/a") return { mode: "ok" };
  return { mode: mode.crm };
}

export async function runMode(
  bench: Bench,
  mode: Mode,
  round: number,
  opts: { pacedRate?: number; connections?: number; durationS?: number } = {},
): Promise<RunRecord> {
  bench.sandbox.reset();
  bench.sandbox.setFaults(faultsFor(bench, mode));
  const job = jobFor(bench, mode.target, {
    pacedRate: opts.pacedRate,
    ...(opts.connections ? { connections: opts.connections } : {}),
    ...(opts.durationS ? { durationS: opts.durationS } : {}),
  });
  const before = bench.cpu();
  const outcome = await bench.load.run(job);
  const cpuMs = cpuDelta(before, bench.cpu());
  const settleStarted = Date.now();
  await bench.settle();
  const record: RunRecord = {
    mode: mode.id,
    round,
    kind: opts.pacedRate ? "fixed-rate" : "closed",
    pacedRate: opts.pacedRate,
    outcome,
    cpuMs,
    settleMs: Date.now() - settleStarted,
  };
  if (mode.target === "on" && mode.crm === "ok") record.lagMs = await deliveryLags(bench);
  return record;
}

/**
 * Delivery lag of every event the sandbox accepted since its last reset:
 * CRM receipt (sandbox clock, ms) − crm_events.created_at (Postgres clock, µs;
 * the statement's start, a little before its commit). Same machine, same clock.
 */
export async function deliveryLags(bench: Bench): Promise<number[]> {
  const accepted = bench.sandbox.accepted().filter((a) => a.idempotencyKey);
  if (accepted.length === 0) return [];
  const received = new Map(accepted.map((a) => [a.idempotencyKey!, Date.parse(a.receivedAt)]));
  const rows = await bench.db<{ id: string; created_ms: number }[]>`
    select id::text, (extract(epoch from created_at) * 1000)::float8 as created_ms
    from crm_events where id = any(${[...received.keys()]}::uuid[])`;
  return rows.map((r) => Math.round((received.get(r.id)! - r.created_ms) * 1000) / 1000);
}

export function requestCount(o: LoadOutcome, endpoint?: Endpoint): number {
  const eps: Endpoint[] = endpoint ? [endpoint] : ["form-start", "form-submit"];
  return eps.reduce((n, e) => n + o.latencies[e].length, 0);
}

export function non2xx(o: LoadOutcome): number {
  let n = 0;
  for (const e of ["form-start", "form-submit"] as const) {
    for (const [code, count] of Object.entries(o.status[e])) if (!code.startsWith("2")) n += count;
  }
  return n;
}
