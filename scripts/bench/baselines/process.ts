/** Starts the baselines' Deno server (serve.ts) the way the local stack starts the functions. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { denoBinary } from "../../local/deno-functions.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SERVER = fileURLToPath(new URL("./serve.ts", import.meta.url));

export interface BaselineStats { inFlight: number; sent: number; failed: number }

export interface BaselineServer {
  origin: string;
  pid: number | undefined;
  stats(): Promise<BaselineStats>;
  stop(): Promise<void>;
}

export async function startBaselines(opts: { port: number; env: Record<string, string> }): Promise<BaselineServer> {
  const keep = ["PATH", "HOME", "TMPDIR", "DENO_DIR", "LANG", "TZ"];
  const inherited = Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
  const child: ChildProcess = spawn(denoBinary(), ["run", "-A", "--no-prompt", SERVER], {
    cwd: ROOT,
    env: { ...inherited, ...opts.env, BASELINE_PORT: String(opts.port), NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const origin = `http://127.0.0.1:${opts.port}`;
  const stats = async (): Promise<BaselineStats> => (await fetch(`${origin}/_stats`)).json() as Promise<BaselineStats>;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("the baselines server exited during start-up");
    try {
      await stats();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the baselines server did not answer on ${origin}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    origin,
    pid: child.pid,
    stats,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
