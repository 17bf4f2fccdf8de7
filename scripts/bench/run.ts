/**
 * `npm run bench` — the CRM bridge's cost, measured over HTTP on a local stack
 * of its own (free ports, temp dir). Modes, interleaved every round:
 * bridge off (the floor); bridge on with the CRM healthy, slow (3 s) or down;
 * and the study's alternatives as baselines (scripts/bench/baselines: await
 * the CRM, plain waitUntil); bridge on with five destinations. Then delivery
 * lag, events lost in an outage, the drain of a 10,000-delivery backlog, DB
 * round trips per request, the claim's cost behind a blocked backlog, and
 * table sizes after 1M deliveries and retention. docs/benchmark.md.
 * Writes bench/results.json and bench/latency.png.
 *
 * Env: BENCH_SECONDS (10), BENCH_ROUNDS (2), BENCH_CONNECTIONS (20),
 * BENCH_RATE_FRACTION (0.5), BENCH_LAG_RATE (50), BENCH_BACKLOG (10000),
 * BENCH_OUTAGE_REQUESTS (500), BENCH_BLOCKED (5000,10000,20000),
 * BENCH_RETENTION_ROWS (1000000; 0 skips), DB_POOL_MAX (8), CRM_SWEEP_INTERVAL_MS (200).
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { denoBinary } from "../local/deno-functions.ts";
import { formStartBody } from "./bodies.ts";
import { renderChart } from "./chart.ts";
import { blockedClaims } from "./blocked-claim.ts";
import { backlogDrain, drainProfile, outageLoss, pacedLag } from "./delivery.ts";
import { BENCH_CRM_KEY, type Bench, startBench } from "./environment.ts";
import { FIXED_RATE_MODES, MODES, type Mode, type RunRecord, requestCount, runMode } from "./modes.ts";
import { renderReport } from "./report.ts";
import { countRoundTrips } from "./round-trips.ts";
import { loadSettings } from "./settings.ts";
import { round, summarize } from "./stats.ts";
import { checks, type Results, summarizeMode } from "./summary.ts";
import { type TableSizeResult, tableSizes } from "./table-size.ts";

const OUT_DIR = fileURLToPath(new URL("../../bench/", import.meta.url));
const started = Date.now();
const progress = (msg: string) =>
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);

async function sandboxCeiling(bench: Bench) {
  const url = new URL(bench.on.crmUrl);
  bench.sandbox.reset();
  const outcome = await bench.load.run({
    origin: url.origin,
    startPath: "",
    submitPath: "",
    fixed: { path: `${url.pathname}/leads`, body: JSON.stringify(leadBody({ id: crypto.randomUUID(), ...formStartBody(), phone: "+33612345678" })) },
    headers: { "content-type": "application/json", "x-api-key": BENCH_CRM_KEY },
    connections: 16,
    durationS: 3,
  });
  bench.sandbox.reset();
  return { connections: 16, rps: round(requestCount(outcome) / outcome.durationS, 1), latency: summarize(outcome.latencies["form-start"]) };
}

async function machine(bench: Bench) {
  const [{ version }] = await bench.db<{ version: string }[]>`select version()`;
  let deno = "?";
  try {
    deno = execFileSync(denoBinary(), ["--version"], { encoding: "utf8" }).split("\n")[0].replace(/^deno /, "").split(" ")[0];
  } catch { /* keep "?" */ }
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim(), node: process.versions.node, deno, postgres: version.split(" ").slice(0, 2).join(" ") };
}

async function main() {
  const settings = loadSettings();
  progress(`settings: ${JSON.stringify(settings)}`);
  const bench = await startBench(settings, progress);
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      progress(`${signal}: stopping`);
      void bench.close().finally(() => process.exit(130));
    });
  }
  try {
    const runs: RunRecord[] = [];
    const byId = (id: string) => MODES.find((m) => m.id === id)!;

    // Warm-up: JIT, pools, caches; the bridge-off capacity sets the fixed rate.
    const warmS = Math.min(4, settings.seconds);
    const capacity: Record<string, number> = {};
    for (const id of ["off", "on-ok", "on5-ok", "await-ok", "waituntil-ok"]) {
      progress(`warm-up: ${byId(id).label} (${warmS} s)`);
      const r = await runMode(bench, byId(id), 0, { durationS: warmS });
      capacity[id] = requestCount(r.outcome) / r.outcome.durationS;
    }
    // A rate every product mode can sustain: a share of the lower capacity.
    const fixedRate = Math.max(10, Math.round((Math.min(capacity.off, capacity["on-ok"]) * settings.rateFraction) / 10) * 10);

    // Measured rounds, modes interleaved; every other round in reverse order so that drift cancels.
    const sequence: Array<{ mode: Mode; paced?: number }> = [
      ...MODES.map((mode) => ({ mode })),
      ...FIXED_RATE_MODES.map((id) => ({ mode: byId(id), paced: fixedRate })),
    ];
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 === 1 ? sequence : [...sequence].reverse();
      for (const { mode, paced } of order) {
        progress(`round ${round}/${settings.rounds}: ${mode.label}${paced ? ` at ${paced} req/s` : ""} (${settings.seconds} s)`);
        runs.push(await runMode(bench, mode, round, paced ? { pacedRate: paced } : {}));
      }
    }

    progress(`delivery lag at ${settings.lagRate} req/s (${settings.seconds} s)`);
    const lag = await pacedLag(bench);

    progress("database round trips per request");
    await bench.settle();
    await bench.sweeper.pause(); // the count must see only the handler's own statements
    const roundTrips = await countRoundTrips(bench).finally(() => bench.sweeper.resume());

    progress(`CRM outage: ${settings.outageRequests} leads through the outbox and through plain waitUntil`);
    const outage = await outageLoss(bench);

    progress(`backlog drain: ${settings.backlogEvents} events`);
    const drain = await backlogDrain(bench);
    progress("drain profile");
    const profile = await drainProfile(bench);
    const ceiling = await sandboxCeiling(bench);

    progress(`claim cost with ${settings.blockedSizes.join(" / ")} deliveries blocked behind dead heads`);
    await bench.settle();
    await bench.sweeper.pause();
    const blocked = await blockedClaims(bench, settings.blockedSizes).finally(() => bench.sweeper.resume());

    let sizes: TableSizeResult | null = null;
    if (settings.retentionRows > 0) {
      progress(`table sizes: ${settings.retentionRows} delivered deliveries, then retention`);
      sizes = await tableSizes(bench, settings.retentionRows);
    }

    const saturatedLag = runs.filter((r) => r.lagMs && r.round > 0 && r.kind === "closed").flatMap((r) => r.lagMs!);
    const partial: Omit<Results, "checks"> = {
      generatedAt: new Date().toISOString(),
      machine: await machine(bench),
      settings: { ...settings, fixedRate, warmUpCapacity: Object.fromEntries(Object.entries(capacity).map(([k, v]) => [k, round(v, 1)])), retrySchedule: "5s,5m,30m,2h,5h,10h,10h", crmTimeoutMs: 10_000, rateLimitPerMinute: 0 },
      closed: MODES.map((m) => summarizeMode(m.id, "closed", runs)),
      fixedRate: { rate: fixedRate, modes: FIXED_RATE_MODES.map((id) => summarizeMode(id, "fixed-rate", runs)) },
      lag: {
        paced: { rate: lag.rate, requests: lag.requests, events: lag.lagMs.length, ms: summarize(lag.lagMs), requestLatency: summarize(lag.requestMs), otherCores: lag.otherCores },
        saturated: { events: saturatedLag.length, ms: summarize(saturatedLag) },
        method:
          "CRM sandbox receipt time (Date, ms) minus crm_events.created_at (Postgres now(): the start of the " +
          "statement that commits the event, a little before the commit itself), same machine clock.",
      },
      roundTrips,
      outage,
      drain: { ...drain },
      drainProfile: profile.map((p) => ({ ...p, reports: undefined })),
      sandboxCeiling: ceiling,
      blockedClaims: blocked,
      tableSizes: sizes,
      functionLogProblems: [...bench.logs.off.problems, ...bench.logs.on.problems, ...bench.logs.on5.problems],
    };
    const results: Results = { ...partial, checks: checks(partial) };

    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(`${OUT_DIR}results.json`, JSON.stringify(results, null, 2) + "\n");
    await renderChart(results, `${OUT_DIR}latency.png`);
    console.log("\n" + renderReport(results));
    console.log(`\nWrote bench/results.json and bench/latency.png in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  } finally {
    stopping = true;
    await bench.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
