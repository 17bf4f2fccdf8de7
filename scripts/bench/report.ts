/** The printed report: tables, the delivery figures, the target checks. */
import type { DrainResult } from "./delivery.ts";
import { BENCH_PROCESS } from "./environment.ts";
import { MODES } from "./modes.ts";
import type { ModeSummary, Results } from "./summary.ts";
import type { TableSizeResult, TableSizes } from "./table-size.ts";

type Cell = string | number;

function table(head: Cell[], rows: Cell[][], alignLeft = 1): string {
  const all = [head, ...rows].map((r) => r.map(String));
  const widths = head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? "")].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [fmt(all[0]), widths.map((w) => "─".repeat(w)).join("  "), ...all.slice(1).map(fmt)].join("\n");
}

const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "–");
const cpuShort: Record<string, string> = {
  "functions (bridge off)": "fn",
  "functions (bridge on)": "fn",
  baselines: "fn",
  postgres: "pg",
  [BENCH_PROCESS]: "crm",
  "load generator": "load",
  "other processes (not the benchmark)": "others",
};

const FN_PROCESS: Record<string, string> = {
  off: "functions (bridge off)",
  on: "functions (bridge on)",
  on5: "functions (bridge on, 5 destinations)",
  await: "baselines",
  waituntil: "baselines",
};

function cpuCell(m: ModeSummary): string {
  if (m.requests === 0) return "–";
  const c = m.cpuMsPerRequest;
  const fn = c[FN_PROCESS[MODES.find((x) => x.id === m.id)!.target]] ?? 0;
  return [fn, c.postgres ?? 0, c[BENCH_PROCESS] ?? 0].map((v) => v.toFixed(2)).join(" / ");
}

function modeRows(list: ModeSummary[]): Cell[][] {
  return list.map((m) => [
    m.label,
    `${m.rps.toFixed(0)}`,
    m.roundRps.map((r) => r.toFixed(0)).join(" "),
    ms(m.latency.p50),
    ms(m.latency.p95),
    ms(m.latency.p99),
    m.errors.total,
    cpuCell(m),
    m.coresBusy.toFixed(2),
    m.otherCores.toFixed(2),
  ]);
}

function drainLine(d: DrainResult): string {
  const merged: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.cpuMs)) merged[cpuShort[k] ?? k] = (merged[cpuShort[k] ?? k] ?? 0) + v;
  const cpu = Object.entries(merged)
    .filter(([, v]) => v >= 50)
    .map(([k, v]) => `${k} ${(v / d.durationMs).toFixed(2)} cores (${(v / d.events).toFixed(2)} ms/event)`)
    .join(", ");
  const got = d.received > 0 ? `, CRM received ${d.received}${d.duplicates ? ` (+${d.duplicates} duplicates)` : ""}` : "";
  const plan = d.plans
    ? `\n      claim (limit 16) on the full backlog: ${d.plans.claim.executionMs} ms — ${planShape(d.plans.claim.plan)}` +
      `\n      completion of one event: ${d.plans.complete.executionMs} ms — ${planShape(d.plans.complete.plan)}`
    : "";
  return `${d.label}: ${d.eventsPerSecond} events/s (${d.events} in ${(d.durationMs / 1000).toFixed(1)} s${got}); CPU ${cpu}${plan}`;
}

/** The plan's main nodes, one line: enough to tell an index-ordered early stop from a full scan + sort. */
function planShape(plan: string[]): string {
  return plan
    .map((l) => l.trim().replace(/^->\s*/, ""))
    .filter((l) => /^(Index Scan|Index Only Scan|Bitmap Heap Scan|Seq Scan|Sort|Nested Loop|Hash|SubPlan|InitPlan)/.test(l) || /^Rows Removed by (Join )?Filter/.test(l))
    .map((l) => l.replace(/ on crm_(events|deliveries) \w+/, "").replace(/\s*\(actual.*?rows=(\d+) loops=(\d+)\)/, " (rows $1 × $2)"))
    .join(" → ");
}

function tableSizeLines(t: TableSizeResult): string[] {
  const names = Object.keys(t.afterLoad.tables);
  const cell = (sz: TableSizes, n: string) => {
    const x = sz.tables[n];
    return x ? `${x.tableMb} + ${x.indexesMb} MB (${x.rows.toLocaleString("en")} rows)` : "–";
  };
  return [
    `Table + index sizes: ${t.deliveries.toLocaleString("en")} delivered deliveries over ${2 * t.retentionDays} days (loaded in ${t.loadS} s), ` +
      `then ${t.retentionDays}-day retention by ${t.retention} (${t.deleted.toLocaleString("en")} rows in ${t.retentionS} s) and VACUUM, then the next window written on top`,
    table(
      ["table", "after the load", "after retention", "after the next window"],
      [...names.map((n) => [n, cell(t.afterLoad, n), cell(t.afterRetention, n), cell(t.afterNextWindow, n)]),
        ["total", `${t.afterLoad.totalMb} MB`, `${t.afterRetention.totalMb} MB`, `${t.afterNextWindow.totalMb} MB`]],
    ),
  ];
}

export function renderReport(r: Results): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(
    `Benchmark — ${r.machine.cpus} CPU (${r.machine.cpuModel}), Node ${r.machine.node}, Deno ${r.machine.deno}, ${r.machine.postgres}`,
    `${s.connections} connections, ${s.seconds} s per mode per round, ${s.rounds} rounds (modes interleaved, order reversed every other round),` +
      ` DB_POOL_MAX=${s.dbPoolMax} per function process, CRM_SWEEP_INTERVAL_MS=${s.sweepIntervalMs}, CRM_RETRY_SCHEDULE=${s.retrySchedule}, RATE_LIMIT_PER_MINUTE=0.`,
    `Each connection plays a visitor: form-start, then form-submit with the lead_id it got (figures cover both requests).`,
    `CPU ms/req: the mode's function process (fn), Postgres (pg), the CRM sandbox and doubles (crm, in the bench process); cores: the benchmark's`,
    `processes together (load generator included); others: cores used meanwhile by processes outside the benchmark.`,
    "",
    `Closed loop (autocannon, ${s.connections} connections, as fast as answered)`,
    table(["mode", "req/s", "per round", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU ms/req fn / pg / crm", "cores", "others"], modeRows(r.closed)),
    "",
    `By endpoint (closed loop), p50 / p95 / p99 ms`,
    table(
      ["mode", "form-start", "form-submit"],
      r.closed.map((m) => [
        m.label,
        `${ms(m.byEndpoint["form-start"].p50)} / ${ms(m.byEndpoint["form-start"].p95)} / ${ms(m.byEndpoint["form-start"].p99)}`,
        `${ms(m.byEndpoint["form-submit"].p50)} / ${ms(m.byEndpoint["form-submit"].p95)} / ${ms(m.byEndpoint["form-submit"].p99)}`,
      ]),
    ),
    "",
    `Fixed rate (open loop: ${r.fixedRate.rate} req/s on a steady schedule, ≈ ${s.rateFraction} × the lower of the bridge-off / bridge-on capacities measured in warm-up)`,
    table(["mode", "req/s", "per round", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU ms/req fn / pg / crm", "cores", "others"], modeRows(r.fixedRate.modes)),
    "",
    "Delivery",
    `  lag commit → CRM receipt, healthy CRM, ${r.lag.paced.rate} req/s steady: p50 ${ms(r.lag.paced.ms.p50)} ms, p95 ${ms(r.lag.paced.ms.p95)}, p99 ${ms(r.lag.paced.ms.p99)}, max ${ms(r.lag.paced.ms.max)} (${r.lag.paced.events} events)`,
    `    (the visitors' requests meanwhile: p50 ${ms(r.lag.paced.requestLatency.p50)} ms, p95 ${ms(r.lag.paced.requestLatency.p95)}, p99 ${ms(r.lag.paced.requestLatency.p99)}; other processes used ${r.lag.paced.otherCores.toFixed(2)} cores)`,
    `  lag under the closed-loop load (bridge on, CRM healthy): p50 ${ms(r.lag.saturated.ms.p50)} ms, p95 ${ms(r.lag.saturated.ms.p95)}, p99 ${ms(r.lag.saturated.ms.p99)} (${r.lag.saturated.events} events)`,
    `  backlog drain — ${drainLine(r.drain)}`,
    ...r.drainProfile.map((d) => `    profile — ${drainLine(d)}`),
    `    profile — CRM sandbox alone (autocannon, ${r.sandboxCeiling.connections} connections): ${r.sandboxCeiling.rps.toFixed(0)} req/s, p50 ${ms(r.sandboxCeiling.latency.p50)} ms`,
    `  CRM outage, ${r.outage.requests} leads sent while the CRM was down, then the CRM back:`,
    `    outbox: ${r.outage.outbox.answered200} answered 200, CRM received ${r.outage.outbox.received} (${r.outage.outbox.deliveredByFirstRetry} by the first retry, 5 s ±20 %), lost ${r.outage.outbox.lost}, duplicates ${r.outage.outbox.duplicates}`,
    `    plain waitUntil (baseline): ${r.outage.waitUntil.answered200} answered 200, CRM received ${r.outage.waitUntil.received}, lost ${r.outage.waitUntil.lost}`,
    "",
    `Database round trips per request (in-process count of statements sent, ${r.roundTrips.requests} requests each)`,
    table(
      ["function", "before the answer", "background (delivery)", "total"],
      Object.entries(r.roundTrips.perRequest).map(([k, v]) => [k, v.beforeAnswer, v.background, v.total]),
    ),
    "",
    `Postgres CPU per form (closed loop; ms of Postgres CPU — backends, autovacuum, checkpointer — per request)`,
    table(
      ["mode", "pg ms/form", "÷ bridge off", "÷ plain waitUntil", "others"],
      r.closed.filter((m) => m.requests > 0).map((m) => {
        const pg = m.cpuMsPerRequest.postgres ?? 0;
        const base = (id: string) => r.closed.find((x) => x.id === id)?.cpuMsPerRequest.postgres ?? NaN;
        return [m.label, pg.toFixed(3), (pg / base("off")).toFixed(2), (pg / base("waituntil-ok")).toFixed(2), m.otherCores.toFixed(2)];
      }),
    ),
    "",
    `Claim cost with deliveries blocked behind dead heads (sweeper claim, limit 16, 64 healthy deliveries due beside them; parked first by the product's claim + park)`,
    table(
      ["blocked", "claims to park them", "claim ms p50", "p90", "execution ms", "claimed"],
      r.blockedClaims.map((b) => [b.blocked, b.parkingClaims, b.claimMs.p50.toFixed(3), b.claimMs.p90.toFixed(3), b.planMs.toFixed(3), b.claimed]),
    ),
    "",
    ...(r.tableSizes ? tableSizeLines(r.tableSizes) : ["Table sizes: skipped (BENCH_RETENTION_ROWS=0)"]),
    "",
    "Targets — issue 12 (the durable bridge at the lossy bridge's price)",
    ...r.checks.filter((c) => c.group === "issue 12").map((c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.measured}   (target ${c.target})`),
    "",
    "Targets — contract",
    ...r.checks.filter((c) => c.group !== "issue 12").map((c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.measured}   (target ${c.target})`),
  );
  const busy = [...r.closed, ...r.fixedRate.modes].filter((m) => m.otherCores > 0.2);
  if (busy.length) {
    out.push("", `⚠ Other processes on this machine used CPU during ${busy.length} of the runs (up to ${Math.max(...busy.map((m) => m.otherCores)).toFixed(2)} cores, see "others"): those figures are perturbed.`);
  }
  if (r.functionLogProblems.length) {
    out.push("", "Warnings/errors printed by the functions (last few):", ...r.functionLogProblems.slice(-5).map((l) => `  ${l}`));
  }
  return out.join("\n");
}
