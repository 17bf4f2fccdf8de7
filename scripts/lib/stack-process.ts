/**
 * `npm start` as a separate process group (tsx scripts/start.ts, or npm itself),
 * so a test or the chaos soak can signal the whole local stack — Node, Deno
 * (and npm) — at once; Postgres has its own group and is stopped by the stack,
 * or by its watchdog after a SIGKILL. The env file is not read unless
 * LOCAL_ENV_FILE is given: a developer's settings never leak into a test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface StackProcess {
  child: ChildProcess;
  /** Everything the process printed, as it arrived. */
  output: string[];
  functionsUrl: string;
  exited: Promise<void>;
  killGroup(signal: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  /** Called with every complete line the process prints (stdout and stderr). */
  onLine?: (line: string) => void;
  /** "npm": run `npm start` (the process a user, an IDE or `docker stop` signals); default tsx directly. */
  via?: "tsx" | "npm";
}

function spawnStart(env: Record<string, string>, via: "tsx" | "npm"): ChildProcess {
  const [command, args] = via === "npm" ? ["npm", ["start", "--silent"]] : [`${ROOT}node_modules/.bin/tsx`, ["scripts/start.ts"]];
  return spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", LOCAL_ENV_FILE: "", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** `npm start` expected to refuse: its exit code and everything it printed, once it has exited. */
export async function runStackToExit(env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const child = spawnStart(env, "tsx");
  let output = "";
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (d) => (output += String(d)));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

export async function spawnStack(env: Record<string, string>, timeoutMs = 60_000, opts: SpawnOptions = {}): Promise<StackProcess> {
  const child = spawnStart(env, opts.via ?? "tsx");
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = "";
    stream.on("data", (d) => {
      const text = String(d);
      output.push(text);
      if (!opts.onLine) return;
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) opts.onLine(line);
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const functionsUrl = `http://127.0.0.1:${env.FUNCTIONS_PORT}/functions/v1`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited early:\n${output.join("")}`);
    if (output.join("").includes("Local stack is up")) break;
    if (Date.now() > deadline) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      throw new Error(`npm start did not come up in ${timeoutMs} ms:\n${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output,
    functionsUrl,
    exited,
    async killGroup(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
      await exited;
    },
  };
}
