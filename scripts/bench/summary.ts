/** Raw runs → the figures the report prints and results.json keeps. */
import { OTHERS } from "./cpu.ts";
import type { BlockedClaim } from "./blocked-claim.ts";
import type { DrainResult, OutageResult } from "./delivery.ts";
import type { TableSizeResult } from "./table-size.ts";
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
  /** "issue 12" for the durable bridge's price, "contract" for the rest. */
  group: string;
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
  blockedClaims: BlockedClaim[];
  tableSizes: TableSizeResult | null;
  checks: Check[];
  functionLogProblems: string[];
}

const pgPerForm = (m: ModeSummary) => m.cpuMsPerRequest.postgres ?? 0;
const f2 = (n: number) => n.toFixed(2);

/** Issue 12: the durable bridge at the lossy bridge's price. */
export function priceChecks(r: Omit<Results, "checks">): Check[] {
  const get = (id: string) => r.closed.find((m) => m.id === id)!;
  const [off, on, on5, wu] = [get("off"), get("on-ok"), get("on5-ok"), get("waituntil-ok")];
  const out: Check[] = [];
  const add = (name: string, target: string, measured: string, ok: boolean) => out.push({ group: "issue 12", name, target, measured, ok });
  const pgRatio = (a: ModeSummary, b: ModeSummary, target: number, name: string) => {
    const ratio = pgPerForm(a) / pgPerForm(b);
    add(name, `≤ ${target}`, `${f2(ratio)} (${pgPerForm(a).toFixed(3)} / ${pgPerForm(b).toFixed(3)} ms)`, ratio <= target);
  };
  pgRatio(on, wu, 1.5, "Postgres CPU per form, bridge on ÷ plain waitUntil");
  pgRatio(on, off, 1.15, "Postgres CPU per form, bridge on ÷ bridge off");
  pgRatio(on5, off, 1.4, "Postgres CPU per form, 5 destinations ÷ bridge off");
  const tput = on.rps / wu.rps;
  add("throughput, bridge on ÷ plain waitUntil", "≥ 0.85", `${f2(tput)} (${on.rps} / ${wu.rps} req/s)`, tput >= 0.85);
  const p95 = on.latency.p95 / wu.latency.p95;
  add("p95, bridge on ÷ plain waitUntil", "≤ 1.2", `${f2(p95)} (${on.latency.p95} / ${wu.latency.p95} ms)`, p95 <= 1.2);
  const perDelivery = (r.drain.cpuMs.postgres ?? 0) / r.drain.events;
  add("Postgres CPU per delivery while draining", "≤ 0.10 ms", `${perDelivery.toFixed(3)} ms (${r.drain.events} deliveries, crm-dispatch)`, perDelivery <= 0.1);
  const ceiling = Math.min(5_000, r.sandboxCeiling.rps);
  add(`backlog drain, ${r.drain.events} deliveries`, `≥ ${Math.round(ceiling)}/s (5,000, or the sandbox's own ceiling: ${Math.round(r.sandboxCeiling.rps)}/s)`,
    `${r.drain.eventsPerSecond}/s`, r.drain.eventsPerSecond >= ceiling && r.drain.received === r.drain.events);
  if (r.blockedClaims.length) {
    const worst = Math.max(...r.blockedClaims.map((b) => b.claimMs.p50));
    const first = r.blockedClaims[0].claimMs.p50;
    const flat = worst <= Math.max(first * 1.5, first + 0.2);
    add(`claim cost with ${r.blockedClaims.map((b) => b.blocked).join(" / ")} deliveries blocked behind dead heads`, "< 1 ms, flat",
      `${r.blockedClaims.map((b) => b.claimMs.p50.toFixed(2)).join(" / ")} ms (median; execution ${r.blockedClaims.map((b) => b.planMs.toFixed(2)).join(" / ")} ms)`,
      worst < 1 && flat);
  }
  for (const fn of ["form-start", "form-submit"]) {
    const t = r.roundTrips.perRequest[`${fn}, bridge on, 5 destinations`];
    const t1 = r.roundTrips.perRequest[`${fn}, bridge on`];
    if (!t || !t1) continue;
    add(`round trips before the visitor's answer, ${fn}`, "1, with any number of destinations",
      `${t1.beforeAnswer} with 1, ${t.beforeAnswer} with 5 (background: ${t1.background} / ${t.background})`, t.beforeAnswer <= 1 && t1.beforeAnswer <= 1);
  }
  const ts = r.tableSizes;
  if (ts) {
    add(`table + index size after ${ts.deliveries.toLocaleString("en")} delivered deliveries and ${ts.retentionDays}-day retention`, "printed; bounded by retention",
      `${ts.afterLoad.totalMb} MB loaded → ${ts.afterRetention.totalMb} MB after retention → ${ts.afterNextWindow.totalMb} MB after the next window (${ts.retention})`,
      ts.afterNextWindow.totalMb <= ts.afterLoad.totalMb * 1.1);
  } else {
    add("table + index size after 1M delivered deliveries and retention", "printed", "skipped (BENCH_RETENTION_ROWS=0)", false);
  }
  return out;
}

export function checks(r: Omit<Results, "checks">): Check[] {
  const get = (list: ModeSummary[], id: string) => list.find((m) => m.id === id)!;
  const off = get(r.closed, "off");
  const out: Check[] = [...priceChecks(r)];
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.closed, id);
    const ratio = m.latency.p95 / off.latency.p95;
    out.push({ group: "contract", name: `p95 ${m.label} / p95 bridge off`, target: "≤ 1.05", measured: `${ratio.toFixed(2)} (${m.latency.p95} / ${off.latency.p95} ms)`, ok: ratio <= 1.05 });
  }
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.closed, id);
    const ratio = m.rps / off.rps;
    out.push({ group: "contract", name: `throughput ${m.label} / bridge off`, target: "≥ 0.95", measured: `${ratio.toFixed(2)} (${m.rps} / ${off.rps} req/s)`, ok: ratio >= 0.95 });
  }
  const foff = get(r.fixedRate.modes, "off");
  for (const id of ["on-slow", "on-down"]) {
    const m = get(r.fixedRate.modes, id);
    const ratio = m.latency.p95 / foff.latency.p95;
    out.push({
      group: "contract",
      name: `at ${r.fixedRate.rate} req/s: p95 ${m.label} / bridge off`,
      target: "≤ 1.05",
      measured: `${ratio.toFixed(2)} (${m.latency.p95} / ${foff.latency.p95} ms)`,
      ok: ratio <= 1.05,
    });
  }
  for (const fn of ["form-start", "form-submit"]) {
    const t = r.roundTrips.perRequest[`${fn}, bridge on`];
    out.push({
      group: "contract",
      name: `DB round trips per ${fn} before the answer`,
      target: "1",
      measured: `${t.beforeAnswer} (+${t.background} in the background after it, ${t.total} in all)`,
      ok: t.beforeAnswer <= 1,
    });
  }
  const lag = r.lag.paced.ms;
  out.push({ group: "contract", name: `delivery lag p50 (healthy CRM, ${r.lag.paced.rate} req/s)`, target: "≤ 15 ms", measured: `${lag.p50} ms`, ok: lag.p50 <= 15 });
  out.push({ group: "contract", name: `delivery lag p99 (healthy CRM, ${r.lag.paced.rate} req/s)`, target: "≤ 100 ms", measured: `${lag.p99} ms`, ok: lag.p99 <= 100 });
  out.push({
    group: "contract",
    name: `backlog drain, ${r.drain.events} events, statistics from before the outage`,
    target: "≥ 1000 events/s",
    measured: `${r.drain.eventsPerSecond} events/s (${(r.drain.durationMs / 1000).toFixed(1)} s)`,
    ok: r.drain.eventsPerSecond >= 1000 && r.drain.received === r.drain.events,
  });
  const fresh = r.drainProfile[0];
  if (fresh) {
    out.push({
      group: "contract",
      name: `backlog drain, ${fresh.events} events, fresh statistics`,
      target: "≥ 1000 events/s",
      measured: `${fresh.eventsPerSecond} events/s (${(fresh.durationMs / 1000).toFixed(1)} s)`,
      ok: fresh.eventsPerSecond >= 1000 && fresh.received === fresh.events,
    });
  }
  out.push({
    group: "contract",
    name: `events lost in a CRM outage (${r.outage.requests} leads)`,
    target: "0 (contract)",
    measured: `outbox ${r.outage.outbox.lost}; plain waitUntil ${r.outage.waitUntil.lost}`,
    ok: r.outage.outbox.lost === 0,
  });
  return out;
}
