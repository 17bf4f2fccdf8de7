/**
 * Everything a benchmark run talks to, started on free ports in a temp dir:
 *   - stack "off": owns the embedded Postgres; functions with the bridge off;
 *   - stack "on":  same Postgres; functions with the bridge on, its own CRM sandbox;
 *   - stack "on5": same Postgres; functions with five destinations on (monelec →
 *     the same sandbox; webhook, hubspot, brevo, pipedrive → their doubles,
 *     served here with generous limits: see fiveDestinationDoubles);
 *   - the baselines' Deno server (scripts/bench/baselines), pointed at that sandbox;
 *   - the load generator process;
 *   - sweeper timers calling crm-dispatch (both bridge-on stacks) every
 *     CRM_SWEEP_INTERVAL_MS, like the local stack's, but pausable (the
 *     backlog-drain phase must be the only sweeper).
 */
import { freePort } from "../lib/free-port.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type DoublesServer, serveDoubles } from "../../src/destinations/double-kit.ts";
import { brevo } from "../../src/destinations/brevo/index.ts";
import { createBrevoDouble } from "../../src/destinations/brevo/double.ts";
import { hubspot } from "../../src/destinations/hubspot/index.ts";
import { createHubspotDouble } from "../../src/destinations/hubspot/double.ts";
import { pipedrive } from "../../src/destinations/pipedrive/index.ts";
import { createPipedriveDouble } from "../../src/destinations/pipedrive/double.ts";
import { webhook } from "../../src/destinations/webhook/index.ts";
import { createWebhookDouble } from "../../src/destinations/webhook/double.ts";
import type { CrmSandbox } from "../local/crm-sandbox.ts";
import { type Stack, startStack } from "../local/stack.ts";
import { type BaselineServer, startBaselines } from "./baselines/process.ts";
import { type CpuSnapshot, cpuSnapshot, MACHINE, machineBusyMs, postgresCpuMs, processCpuMs, selfCpuMs } from "./cpu.ts";
import { type LoadGenerator, startLoadGenerator } from "./load.ts";
import type { BenchSettings } from "./settings.ts";

export const BENCH_CRM_KEY = "bench-crm-key-0123456789";
export const BENCH_PROCESS = "bench process (CRM sandbox, doubles, sweeper timer)";
/**
 * Deliveries per second given to the bridge's buckets (<NAME>_RATE_LIMIT):
 * no limit in practice. 1,000/s is the most Pipedrive's setting accepts, and
 * more than the 5-destination mode ever sends; monelec's drain gets more.
 */
export const UNLIMITED_RATE = 1_000;
export const MONELEC_DRAIN_RATE = 100_000;

export interface Sweeper {
  pause(): Promise<void>;
  resume(): void;
  stop(): void;
}

export interface FunctionLogs {
  lines: number;
  /** The last warn/error lines other than routine "crm delivery" retries. */
  problems: string[];
}

export interface Bench {
  settings: BenchSettings;
  off: Stack;
  on: Stack;
  /** Bridge on with five destinations (FIVE_DESTINATIONS). */
  on5: Stack;
  sandbox: CrmSandbox;
  /** The doubles of on5's four other destinations. */
  doubles: DoublesServer;
  /** on5's destination settings (for the in-process round-trip count). */
  fiveEnv: Record<string, string>;
  baselines: BaselineServer;
  load: LoadGenerator;
  db: postgres.Sql;
  sweeper: Sweeper;
  logs: { off: FunctionLogs; on: FunctionLogs; on5: FunctionLogs };
  cpu(): CpuSnapshot;
  /** CRM back to healthy, retries made due, nothing in flight anywhere, then a checkpoint. */
  settle(): Promise<void>;
  pendingCount(): Promise<number>;
  close(): Promise<void>;
}


export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

function logCollector(): { logs: FunctionLogs; onOutput: (line: string) => void } {
  const logs: FunctionLogs = { lines: 0, problems: [] };
  return {
    logs,
    onOutput(line) {
      logs.lines++;
      if (!/"level":"(warn|error)"/.test(line) || line.includes('"msg":"crm delivery"')) return;
      logs.problems.push(line.slice(0, 400));
      if (logs.problems.length > 20) logs.problems.shift();
    },
  };
}

function startSweeper(stacks: Stack[], intervalMs: number): Sweeper {
  let paused = false;
  let running = 0;
  const timer = setInterval(() => {
    if (paused || running > 0) return;
    for (const stack of stacks) {
      running++;
      stack.sweepNow().catch(() => {}).finally(() => running--);
    }
  }, intervalMs);
  return {
    async pause() {
      paused = true;
      while (running > 0) await sleep(10);
    },
    resume() {
      paused = false;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** The destinations of the 5-destination mode. */
export const FIVE_DESTINATIONS = ["monelec", "webhook", "hubspot", "brevo", "pipedrive"];

/**
 * The four doubles of the 5-destination mode. They enforce the vendors' rules
 * (auth, validation, upserts, error shapes) but their rate limits are raised
 * far above what the benchmark sends, and the bridge's own buckets
 * (<NAME>_RATE_LIMIT) likewise: the mode measures what five deliveries per
 * event cost the database, not a vendor's quota (with the documented limits —
 * HubSpot 100 per 10 s, Brevo 10 contacts/s, Pipedrive 20 per 2 s — the
 * deliveries would mostly wait, and what waits costs nothing until it goes).
 * Brevo's 36,000 contact calls an hour is not configurable: the doubles are
 * reset after every run, which keeps each run far below it.
 */
function fiveDestinationDoubles() {
  const unlimited = 1e9;
  return serveDoubles([
    createWebhookDouble(),
    createHubspotDouble({ tenSecondlyLimit: unlimited, dailyLimit: unlimited }),
    createBrevoDouble({ contactsPerSecond: unlimited, otherPerHour: unlimited }),
    createPipedriveDouble({ burstLimit: unlimited, searchBurstLimit: unlimited, dailyWriteLimit: unlimited }),
  ]);
}

export async function startBench(settings: BenchSettings, progress: (msg: string) => void): Promise<Bench> {
  const dataDir = await mkdtemp(join(tmpdir(), "raccordement-bench-"));
  const common = {
    CRM_SANDBOX_PORT: "0",
    STRIPE_DOUBLE_PORT: "0",
    RATE_LIMIT_PER_MINUTE: "0",
    CRM_SWEEP_INTERVAL_MS: String(settings.sweepIntervalMs),
    DB_POOL_MAX: String(settings.dbPoolMax),
    // Production defaults, stated so that a caller's environment cannot change them.
    CRM_TIMEOUT_MS: "10000",
    CRM_RETRY_SCHEDULE: "5s,5m,30m,2h,5h,10h,10h",
    // monelec's polite default (20/s) would make the backlog drain a measure of the
    // bucket; the sandbox has no limit. The bucket is still read and spent on every claim.
    MONELEC_RATE_LIMIT: String(MONELEC_DRAIN_RATE),
  };
  const stops: Array<() => Promise<unknown> | void> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await Promise.resolve().then(stop).catch(() => {});
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    progress("starting Postgres and the bridge-off functions…");
    const offLogs = logCollector();
    const off = await startStack({
      env: { ...common, FUNCTIONS_PORT: String(await freePort()), DB_PORT: String(await freePort()), MONELEC_API_KEY: "" },
      dataDir,
      onOutput: offLogs.onOutput,
      sweep: false,
    });
    stops.push(() => off.stop());

    progress("starting the bridge-on functions and the CRM sandbox…");
    const onLogs = logCollector();
    const on = await startStack({
      env: { ...common, DATABASE_URL: off.databaseUrl, FUNCTIONS_PORT: String(await freePort()), MONELEC_API_KEY: BENCH_CRM_KEY },
      dataDir: join(dataDir, "on"),
      onOutput: onLogs.onOutput,
      sweep: false,
    });
    stops.push(() => on.stop());
    const sandbox = on.crmSandbox!;

    progress("starting the 5-destination functions and the destinations' doubles…");
    const doubles = await fiveDestinationDoubles();
    stops.push(() => doubles.close());
    const fiveEnv: Record<string, string> = {
      MONELEC_API_URL: on.crmUrl,
      MONELEC_API_KEY: BENCH_CRM_KEY,
      ...webhook.localEnv(doubles.urlOf("webhook")),
      ...hubspot.localEnv(doubles.urlOf("hubspot")),
      ...brevo.localEnv(doubles.urlOf("brevo")),
      ...pipedrive.localEnv(doubles.urlOf("pipedrive")),
      ...Object.fromEntries(FIVE_DESTINATIONS.slice(1).map((d) => [`${d.toUpperCase()}_RATE_LIMIT`, String(UNLIMITED_RATE)])),
    };
    const on5Logs = logCollector();
    const on5 = await startStack({
      env: { ...common, ...fiveEnv, DATABASE_URL: off.databaseUrl, FUNCTIONS_PORT: String(await freePort()) },
      dataDir: join(dataDir, "on5"),
      onOutput: on5Logs.onOutput,
      sweep: false,
    });
    stops.push(() => on5.stop());
    if (on5.enabledDestinations.join() !== FIVE_DESTINATIONS.join()) {
      throw new Error(`the 5-destination stack enabled ${on5.enabledDestinations.join(", ")}`);
    }

    progress("starting the baselines server and the load generator…");
    const baselines = await startBaselines({
      port: await freePort(),
      env: {
        DATABASE_URL: off.databaseUrl,
        DB_POOL_MAX: common.DB_POOL_MAX,
        MONELEC_API_URL: on.crmUrl,
        MONELEC_API_KEY: BENCH_CRM_KEY,
        CRM_TIMEOUT_MS: common.CRM_TIMEOUT_MS,
        SUPABASE_ANON_KEY: on.anonKey,
        ALLOWED_ORIGINS: "http://127.0.0.1:*",
      },
    });
    stops.push(() => baselines.stop());
    const load = startLoadGenerator();
    stops.push(() => load.stop());

    const db = postgres(off.databaseUrl, { max: 4, prepare: false, onnotice: () => {} });
    stops.push(() => db.end({ timeout: 5 }));
    const sweeper = startSweeper([on, on5], on.sweepIntervalMs);
    stops.push(() => sweeper.stop());

    const postmasterPid = Number((await readFile(join(dataDir, "postgres", "postmaster.pid"), "utf8")).split("\n")[0]);
    const probes: Record<string, () => number> = {
      "functions (bridge off)": () => processCpuMs(off.functions.child.pid),
      "functions (bridge on)": () => processCpuMs(on.functions.child.pid),
      "functions (bridge on, 5 destinations)": () => processCpuMs(on5.functions.child.pid),
      baselines: () => processCpuMs(baselines.pid),
      postgres: () => postgresCpuMs(postmasterPid),
      [BENCH_PROCESS]: selfCpuMs,
      "load generator": () => processCpuMs(load.pid),
      [MACHINE]: machineBusyMs,
    };

    const pendingCount = async () => (await db<{ n: number }[]>`select count(*)::int as n from crm_deliveries where state in ('pending', 'blocked')`)[0].n;
    const settle = async () => {
      sandbox.setFaults({ mode: "ok" });
      for (const d of FIVE_DESTINATIONS.slice(1)) doubles.get(d).setFaults({ mode: "ok" });
      await waitFor(async () => {
        await db`update crm_deliveries set next_attempt_at = now() where state = 'pending' and next_attempt_at > now()`;
        return (await pendingCount()) === 0 && (await baselines.stats()).inFlight === 0;
      }, 180_000, "the CRM backlog to drain between runs");
      for (const d of FIVE_DESTINATIONS.slice(1)) doubles.get(d).reset();
      await db`checkpoint`;
      await sleep(300);
    };

    return {
      settings,
      off,
      on,
      on5,
      sandbox,
      doubles,
      fiveEnv,
      baselines,
      load,
      db,
      sweeper,
      logs: { off: offLogs.logs, on: onLogs.logs, on5: on5Logs.logs },
      cpu: () => cpuSnapshot(probes),
      settle,
      pendingCount,
      close: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
