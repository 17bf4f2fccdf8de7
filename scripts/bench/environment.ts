/**
 * Everything a benchmark run talks to, started on free ports in a temp dir:
 *   - stack "off": owns the embedded Postgres; functions with the bridge off;
 *   - stack "on":  same Postgres; functions with the bridge on, its own CRM sandbox;
 *   - the baselines' Deno server (scripts/bench/baselines), pointed at that sandbox;
 *   - the load generator process;
 *   - a sweeper timer calling crm-dispatch every CRM_SWEEP_INTERVAL_MS, like the
 *     local stack's, but pausable (the backlog-drain phase must be the only sweeper).
 */
import { freePort } from "../lib/free-port.ts";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { CrmSandbox } from "../local/crm-sandbox.ts";
import { type Stack, startStack } from "../local/stack.ts";
import { type BaselineServer, startBaselines } from "./baselines/process.ts";
import { type CpuSnapshot, cpuSnapshot, MACHINE, machineBusyMs, postgresCpuMs, processCpuMs, selfCpuMs } from "./cpu.ts";
import { type LoadGenerator, startLoadGenerator } from "./load.ts";
import type { BenchSettings } from "./settings.ts";

export const BENCH_CRM_KEY = "bench-crm-key-0123456789";

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
  sandbox: CrmSandbox;
  baselines: BaselineServer;
  load: LoadGenerator;
  db: postgres.Sql;
  sweeper: Sweeper;
  logs: { off: FunctionLogs; on: FunctionLogs };
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

function startSweeper(stack: Stack, intervalMs: number): Sweeper {
  let paused = false;
  let running = false;
  const timer = setInterval(() => {
    if (paused || running) return;
    running = true;
    stack.sweepNow().catch(() => {}).finally(() => (running = false));
  }, intervalMs);
  return {
    async pause() {
      paused = true;
      while (running) await sleep(10);
    },
    resume() {
      paused = false;
    },
    stop() {
      clearInterval(timer);
    },
  };
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
    const sweeper = startSweeper(on, on.sweepIntervalMs);
    stops.push(() => sweeper.stop());

    const postmasterPid = Number((await readFile(join(dataDir, "postgres", "postmaster.pid"), "utf8")).split("\n")[0]);
    const probes: Record<string, () => number> = {
      "functions (bridge off)": () => processCpuMs(off.functions.child.pid),
      "functions (bridge on)": () => processCpuMs(on.functions.child.pid),
      baselines: () => processCpuMs(baselines.pid),
      postgres: () => postgresCpuMs(postmasterPid),
      "bench process (CRM sandbox, sweeper timer)": selfCpuMs,
      "load generator": () => processCpuMs(load.pid),
      [MACHINE]: machineBusyMs,
    };

    const pendingCount = async () => (await db<{ n: number }[]>`select count(*)::int as n from crm_deliveries where state in ('pending', 'blocked')`)[0].n;
    const settle = async () => {
      sandbox.setFaults({ mode: "ok" });
      await waitFor(async () => {
        await db`update crm_deliveries set next_attempt_at = now() where state = 'pending' and next_attempt_at > now()`;
        return (await pendingCount()) === 0 && (await baselines.stats()).inFlight === 0;
      }, 180_000, "the CRM backlog to drain between runs");
      await db`checkpoint`;
      await sleep(300);
    };

    return {
      settings,
      off,
      on,
      sandbox,
      baselines,
      load,
      db,
      sweeper,
      logs: { off: offLogs.logs, on: onLogs.logs },
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
