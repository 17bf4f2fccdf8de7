/** The load generator process (load-worker.ts), started once and reused for every run. */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LoadJob, LoadOutcome } from "./load-worker.ts";

export type { Endpoint, LoadJob, LoadOutcome } from "./load-worker.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = fileURLToPath(new URL("./load-worker.ts", import.meta.url));

export interface LoadGenerator {
  pid: number | undefined;
  run(job: LoadJob): Promise<LoadOutcome>;
  stop(): Promise<void>;
}

export function startLoadGenerator(): LoadGenerator {
  const child: ChildProcess = fork(WORKER, [], {
    cwd: ROOT,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<number, { resolve: (o: LoadOutcome) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  child.on("message", (msg: { id: number; outcome?: LoadOutcome; error?: string }) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.error !== undefined) w?.reject(new Error(`load generator: ${msg.error}`));
    else w?.resolve(msg.outcome!);
  });
  child.on("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited (${code})`));
    waiting.clear();
  });
  return {
    pid: child.pid,
    run(job) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, job });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.disconnect();
      await exited;
    },
  };
}
