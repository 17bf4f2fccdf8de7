/**
 * `npm start` as a separate process group (tsx scripts/start.ts), so a test or
 * the chaos soak can kill the whole local stack — Node, Deno and (when it runs
 * its own) Postgres — with SIGKILL.
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
}

export async function spawnStack(env: Record<string, string>, timeoutMs = 60_000, opts: SpawnOptions = {}): Promise<StackProcess> {
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, ["scripts/start.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
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
