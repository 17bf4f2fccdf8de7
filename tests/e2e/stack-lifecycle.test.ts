/**
 * `npm start` at its edges: a port already taken (each in turn, set in the
 * env file) is refused before anything starts, naming the setting that moves it; a second stack
 * never hurts a running one; and a stop — SIGTERM to the npm process, Ctrl-C
 * (SIGINT to the terminal's process group), or SIGTERM to one of its parts —
 * ends every process of the stack and frees every port, after the in-flight
 * CRM delivery is recorded.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { localDatabaseUrl } from "../../scripts/lib/database-url.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { isPortInUse } from "../../scripts/lib/ports.ts";
import { validLead } from "../../scripts/lib/sample-bodies.ts";
import { runStackToExit, spawnStack, type StackProcess } from "../../scripts/lib/stack-process.ts";
import { LOCAL_ANON_KEY } from "../../scripts/local/dev-keys.ts";
import { type CrmSandbox, startCrmSandbox } from "../../scripts/local/crm-sandbox.ts";
import { startPostgres } from "../../scripts/local/postgres.ts";
import { eventually } from "../helpers/test-stack.ts";

const PORT_SETTINGS = ["FUNCTIONS_PORT", "DB_PORT", "CRM_SANDBOX_PORT", "STRIPE_DOUBLE_PORT", "EXAMPLE_PAGE_PORT"] as const;

/** A whole stack of its own: free ports for every setting, a data directory that does not exist yet. */
async function stackEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const parent = await mkdtemp(join(tmpdir(), "raccordement-lifecycle-"));
  await chmod(parent, 0o755); // as root, Postgres runs as "postgres" and must get through
  const env: Record<string, string> = { LOCAL_DATA_DIR: join(parent, "data") };
  for (const setting of PORT_SETTINGS) env[setting] = String(await freePort());
  return { ...env, ...extra };
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** Every process below `root` now (pid → command), from the OS's process table. */
function descendants(root: number): Map<number, string> {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }));
  const found = new Map<number, string>();
  const walk = (pid: number) => {
    for (const row of rows) if (row.ppid === pid && !found.has(row.pid)) (found.set(row.pid, row.args), walk(row.pid));
  };
  walk(root);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const formStart = (functionsUrl: string) =>
  fetch(`${functionsUrl}/form-start`, {
    method: "POST",
    headers: { authorization: `Bearer ${LOCAL_ANON_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(validLead()),
  });

const running: StackProcess[] = [];
afterEach(async () => {
  for (const stack of running.splice(0)) await stack.killGroup("SIGTERM");
});

describe("a port already taken", () => {
  for (const setting of PORT_SETTINGS) {
    it(`${setting}: npm start exits non-zero naming ${setting}, and touches nothing`, async () => {
      const env = await stackEnv();
      const blocker = await occupy(Number(env[setting]));
      // This port comes from the env file (supabase/functions/.env's stand-in), the others from the environment.
      const { [setting]: port, ...others } = env;
      const file = join(env.LOCAL_DATA_DIR, "..", "local.env");
      await writeFile(file, `${setting}=${port}\n`);
      try {
        const { code, output } = await runStackToExit({ ...others, LOCAL_ENV_FILE: file });
        expect(code, output).not.toBe(0);
        expect(output).toContain(`Port ${env[setting]} (${setting},`);
        expect(output).toContain(`set ${setting}=`);
        // The only port named is the taken one.
        for (const other of PORT_SETTINGS.filter((s) => s !== setting)) expect(output).not.toContain(`(${other},`);
        // Checked before anything was created or started: no data directory, no Postgres.
        expect(existsSync(env.LOCAL_DATA_DIR)).toBe(false);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    }, 30_000);
  }
});

describe("a second npm start", () => {
  it("is refused (same ports, then same data directory) and leaves the first stack answering", async () => {
    const env = await stackEnv();
    const first = await spawnStack(env);
    running.push(first);
    const sql = postgres(localDatabaseUrl(Number(env.DB_PORT)), { max: 1, onnotice: () => {} });
    try {
      const again = await runStackToExit(env);
      expect(again.code, again.output).not.toBe(0);
      for (const setting of PORT_SETTINGS) expect(again.output).toContain(`(${setting},`);

      const otherPorts = await stackEnv({ LOCAL_DATA_DIR: env.LOCAL_DATA_DIR });
      const sameData = await runStackToExit(otherPorts);
      expect(sameData.code, sameData.output).not.toBe(0);
      expect(sameData.output).toContain("LOCAL_DATA_DIR");
      const owner = Number(/Another local stack \(process (\d+)\)/.exec(sameData.output)?.[1]);
      expect(descendants(first.child.pid!).has(owner)).toBe(true); // names the first stack's process

      // The first stack still works end to end: functions, and the Postgres they write to.
      const res = await formStart(first.functionsUrl);
      expect(res.status).toBe(200);
      const { lead_id } = await res.json();
      expect(await sql`select id from leads where id = ${lead_id}`).toHaveLength(1);
    } finally {
      await sql.end();
    }
  }, 90_000);
});

describe("stopping npm start", () => {
  const KEY = "lifecycle-crm-key";
  let crm: CrmSandbox;
  beforeAll(async () => {
    crm = await startCrmSandbox({ apiKey: KEY, quiet: true });
  });
  afterAll(async () => {
    await crm?.close();
  });

  const pidOf = (processes: Map<number, string>, pattern: RegExp) => [...processes].find(([, args]) => pattern.test(args))![0];
  const stops: Record<string, (npm: StackProcess, processes: Map<number, string>) => void> = {
    "SIGTERM to the npm process (kill <pid of npm start>)": (npm) => process.kill(npm.child.pid!, "SIGTERM"),
    "SIGINT to its process group (Ctrl-C in the terminal)": (npm) => process.kill(-npm.child.pid!, "SIGINT"),
    "SIGTERM to the functions process (Deno)": (_, processes) => process.kill(pidOf(processes, /serve-functions\.ts/), "SIGTERM"),
    "SIGTERM to Postgres (its smart shutdown)": (_, processes) => process.kill(pidOf(processes, /postgres -D/), "SIGTERM"),
  };
  for (const [how, stop] of Object.entries(stops)) {
    it(`${how}: no process or port of the stack remains, and the in-flight delivery is recorded`, async () => {
      crm.reset();
      const env = await stackEnv({ MONELEC_API_URL: crm.url, MONELEC_API_KEY: KEY, CRM_TIMEOUT_MS: "10000" });
      const npm = await spawnStack(env, 60_000, { via: "npm" });
      running.push(npm);
      const processes = descendants(npm.child.pid!);
      processes.set(npm.child.pid!, "npm start");
      expect([...processes.values()].join("\n")).toMatch(/postgres -D/); // the tree holds the whole stack

      crm.setFaults({ mode: "slow", delayMs: 2_000 });
      const res = await formStart(npm.functionsUrl);
      expect(res.status).toBe(200);
      await eventually(() => crm.attempts() >= 1, 5_000); // the lead's delivery is in flight
      expect(crm.accepted()).toHaveLength(0);
      stop(npm, processes);

      await eventually(() => [...processes.keys()].every((pid) => !alive(pid)), 30_000, 100).catch(() => {
        const left = [...processes].filter(([pid]) => alive(pid)).map(([pid, args]) => `${pid} ${args}`);
        throw new Error(`still running after the stop:\n${left.join("\n")}\n--- output:\n${npm.output.join("")}`);
      });
      for (const setting of PORT_SETTINGS) expect(await isPortInUse(Number(env[setting])), setting).toBe(false);

      // The CRM got the lead once, and the database (opened again) says so.
      expect(crm.accepted()).toHaveLength(1);
      const pg = await startPostgres({ dataDir: join(env.LOCAL_DATA_DIR, "postgres"), port: Number(env.DB_PORT) });
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const events = await sql`select event_id as id, state from crm_deliveries`;
        expect(events).toEqual([{ id: crm.accepted()[0].idempotencyKey, state: "delivered" }]);
      } finally {
        await sql.end();
        await pg.stop();
      }
      running.splice(running.indexOf(npm), 1);
    }, 120_000);
  }
});
