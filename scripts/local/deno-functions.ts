/** Starts the Deno process that serves the functions, and waits until it answers. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = fileURLToPath(new URL("./serve-functions.ts", import.meta.url));

/** The deno binary the npm package installed (no npx wrapper, so signals reach it). */
export function denoBinary(): string {
  for (const candidate of ["node_modules/deno/deno", "node_modules/@deno/linux-x64-glibc/deno"]) {
    if (existsSync(ROOT + candidate)) return ROOT + candidate;
  }
  throw new Error("The deno binary is missing: run `npm install` (it ships with the `deno` npm package).");
}

export interface FunctionsProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface FunctionsOptions {
  port: number;
  env: Record<string, string>;
  /** Where the process's stdout/stderr lines go (default: this process's). */
  onOutput?: (line: string) => void;
  startTimeoutMs?: number;
}

export async function startFunctions(opts: FunctionsOptions): Promise<FunctionsProcess> {
  const child = spawn(denoBinary(), ["run", "-A", "--no-prompt", SERVER], {
    cwd: ROOT,
    env: { ...inheritedEnv(), ...opts.env, FUNCTIONS_PORT: String(opts.port), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const forward = opts.onOutput ?? ((line: string) => process.stdout.write(line + "\n"));
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line) forward(line);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${opts.port}`;
  await waitForHealth(url, exited, opts.startTimeoutMs ?? 30_000);
  return {
    url,
    child,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Only what a process needs to run: PATH/HOME and Deno's own settings, never the caller's secrets. */
function inheritedEnv(): Record<string, string> {
  const keep = ["PATH", "HOME", "TMPDIR", "DENO_DIR", "LANG", "TZ"];
  return Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
}

async function waitForHealth(url: string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  let dead = false;
  exited.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error("The functions process exited during start-up (see its output above).");
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The functions did not answer on ${url} within ${timeoutMs} ms.`);
}
