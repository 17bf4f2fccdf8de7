/** Raw runs → the figures the report prints and results.json keeps. */
import { OTHERS } from "./cpu.ts";
import type { DrainResult, OutageResult } from "./delivery.ts";
import type { Endpoint } from "./load.ts";
import { MODES, type RunRecord, non2xx, requestCount } from "./modes.ts";
import type { RoundTrips } from "./round-trips.ts";
import { curve, type LatencySummary, round, summarize } from "./stats.ts";

export interface ModeSummary {
  id: string;
  label: string;
  kind: "closed" | "fixed-rate";
  baseline: boolean;
  requests: number;
  durationS: number;
  rps: number;
  /** Requests per second of each round, in run order. */
  roundRps: number[];
  latency: LatencySummary;
  byEndpoint: Record<Endpoint, LatencySummary>;
  errors: { non2xx: number; socket: number; timeouts: number; total: number };
  /** CPU ms per request, by component (only those that did work). */
  cpuMsPerRequest: Record<string, number>;
  /** CPU cores the benchmark's own processes kept busy during the runs. */
  coresBusy: number;
  /** Cores used meanwhile by processes outside the benchmark (other work on a shared machine). */
  otherCores: number;
  curve: Array<{ p: number; ms: number }>;
}

export function summarizeMode(id: string, kind: ModeSummary["kind"], runs: RunRecord[]): ModeSummary {
  const mode = MODES.find((m) => m.id === id)!;
  const mine = runs.filter((r) => r.mode === id && r.kind === kind && r.round > 0);
  const lat: Record<Endpoint, number[]> = { "form-start": [], "form-submit": [] };
  let requests = 0, durationS = 0, bad = 0, socket = 0, timeouts = 0;
  const cpu: Record<string, number> = {};
  for (const r of mine) {
    for (const e of ["form-start", "form-submit"] as const) for (const v of r.outcome.latencies[e]) lat[e].push(v);
    requests += requestCount(r.outcome);
    durationS += r.outcome.durationS;
    bad += non2xx(r.outcome);
    socket += r.outcome.errors - r.outcome.timeouts;
    timeouts += r.outcome.timeouts;
    for (const [k, v] of Object.entries(r.cpuMs)) cpu[k] = (cpu[k] ?? 0) + v;
  }
  const all = [...lat["form-start"], ...lat["form-submit"]];
  const others = cpu[OTHERS] ?? 0;
  delete cpu[OTHERS];
  const cpuTotal = Object.values(cpu).reduce((a, b) => a + b, 0);
  return {
    id,
    label: mode.label,
    kind,
    baseline: mode.baseline,
    requests,
    durationS: round(durationS),
    rps: round(requests / durationS, 1),
    roundRps: mine.map((r) => round(requestCount(r.outcome) / r.outcome.durationS, 1)),
    latency: summarize(all),
    byEndpoint: { "form-start": summarize(lat["form-start"]), "form-submit": summarize(lat["form-submit"]) },
    errors: { non2xx: bad, socket, timeouts, total: bad + socket + timeouts },
    cpuMsPerRequest: requests === 0 ? {} : Object.fromEntries(
      Object.entries(cpu).filter(([, v]) => v / requests >= 0.01).map(([k, v]) => [k, round(v / requests, 3)]),
    ),
    coresBusy: round(cpuTotal / 1000 / durationS),
    otherCores: round(others / 1000 / durationS),
    curve: curve(all),
  };
}

export interface Check {
  name: string;
  target: string;
  measured: string;
  ok: boolean;
}

export interface Results {
  generatedAt: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  closed: ModeSummary[];
  fixedRate: { rate: number; modes: ModeSummary[] };
  lag: {
    paced: { rate: number; requests: number; events: number; ms: LatencySummary; requestLatency: LatencySummary; otherCores: number };
    saturated: { events: number; ms: LatencySummary };
    method: string;
  };
  roundTrips: RoundTrips;
  outage: OutageResult;
  drain: DrainResult;
  drainProfile: DrainResult[];
  sandboxCeiling: { connections: number; rps: number; latency: LatencySummary };
  checks: Check[];
  functionLogProblems: string[];
}

export function checks(r: Omit<Results, "checks">): Check[] {
  const get = (list: ModeSummary[], id: string) => list.find((m) => m.id === id)!;
  const off = get(r.closed, "off");
  const out: Check[] = [];
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.closed, id);
    const ratio = m.latency.p95 / off.latency.p95;
    out.push({ name: `p95 ${m.label} / p95 bridge off`, target: "≤ 1.05", measured: `${ratio.toFixed(2)} (${m.latency.p95} / ${off.latency.p95} ms)`, ok: ratio <= 1.05 });
  }
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.closed, id);
    const ratio = m.rps / off.rps;
    out.push({ name: `throughput ${m.label} / bridge off`, target: "≥ 0.95", measured: `${ratio.toFixed(2)} (${m.rps} / ${off.rps} req/s)`, ok: ratio >= 0.95 });
  }
  const foff = get(r.fixedRate.modes, "off");
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.fixedRate.modes, id);
    const ratio = m.latency.p95 / foff.latency.p95;
    out.push({
      name: `at ${r.fixedRate.rate} req/s: p95 ${m.label} / bridge off`,
      target: "≤ 1.05",
      measured: `${ratio.toFixed(2)} (${m.latency.p95} / ${foff.latency.p95} ms)`,
      ok: ratio <= 1.05,
    });
  }
  for (const fn of ["form-start", "form-submit"]) {
    const t = r.roundTrips.perRequest[`${fn}, bridge on`];
    out.push({
      name: `DB round trips per ${fn} before the answer`,
      target: "1",
      measured: `${t.beforeAnswer} (+${t.background} in the background after it, ${t.total} in all)`,
      ok: t.beforeAnswer <= 1,
    });
  }
  const lag = r.lag.paced.ms;
  out.push({ name: `delivery lag p50 (healthy CRM, ${r.lag.paced.rate} req/s)`, target: "≤ 15 ms", measured: `${lag.p50} ms`, ok: lag.p50 <= 15 });
  out.push({ name: `delivery lag p99 (healthy CRM, ${r.lag.paced.rate} req/s)`, target: "≤ 100 ms", measured: `${lag.p99} ms`, ok: lag.p99 <= 100 });
  out.push({
    name: `backlog drain, ${r.drain.events} events, statistics from before the outage`,
    target: "≥ 1000 events/s",
    measured: `${r.drain.eventsPerSecond} events/s (${(r.drain.durationMs / 1000).toFixed(1)} s)`,
    ok: r.drain.eventsPerSecond >= 1000 && r.drain.received === r.drain.events,
  });
  const fresh = r.drainProfile[0];
  if (fresh) {
    out.push({
      name: `backlog drain, ${fresh.events} events, fresh statistics`,
      target: "≥ 1000 events/s",
      measured: `${fresh.eventsPerSecond} events/s (${(fresh.durationMs / 1000).toFixed(1)} s)`,
      ok: fresh.eventsPerSecond >= 1000 && fresh.received === fresh.events,
    });
  }
  out.push({
    name: `events lost in a CRM outage (${r.outage.requests} leads)`,
    target: "0 (contract)",
    measured: `outbox ${r.outage.outbox.lost}; plain waitUntil ${r.outage.waitUntil.lost}`,
    ok: r.outage.outbox.lost === 0,
  });
  return out;
}
