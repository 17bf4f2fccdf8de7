/**
 * `npm start` as a separate process group (tsx scripts/start.ts), so a test can
 * kill the whole local stack — Node, Deno and Postgres — with SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface StackProcess {
  child: ChildProcess;
  output: string[];
  functionsUrl: string;
  exited: Promise<void>;
  killGroup(signal: NodeJS.Signals): Promise<void>;
}

export async function spawnStack(env: Record<string, string>, timeoutMs = 60_000): Promise<StackProcess> {
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, ["scripts/start.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const functionsUrl = `http://127.0.0.1:${env.FUNCTIONS_PORT}/functions/v1`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output.join("")}`);
    if (output.join("").includes("Local stack is up")) break;
    if (Date.now() > deadline) throw new Error(`npm start did not come up in ${timeoutMs} ms:\n${output.join("")}`);
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
