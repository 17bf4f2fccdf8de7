/**
 * One local stack per data directory. A stack writes its process id to
 * `<dataDir>/stack.pid` before it touches anything in there (Postgres, the
 * Stripe double's journal); a second stack on the same directory is refused
 * while that process lives, so it can never stop the first one's Postgres.
 * A file left by a stack that died (SIGKILL, power loss) is taken over.
 */
import { readFileSync } from "node:fs";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface DataDirClaim {
  file: string;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
  // A killed stack whose parent died too is a zombie until an init reaps it (in a container,
  // maybe never): signal 0 still reaches it, yet it holds nothing. Linux says so in /proc.
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc (macOS…): trust the signal
  }
}

/** Alive, and still alive a moment later (a stack just SIGKILLed takes a moment to be gone). */
async function stillAlive(pid: number): Promise<boolean> {
  for (let i = 0; i < 30 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return isAlive(pid);
}

async function ownerOf(file: string): Promise<number | null> {
  try {
    const pid = Number(JSON.parse(await readFile(file, "utf8")).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // missing, or torn by a crash mid-write: nobody owns it
  }
}

export async function claimDataDir(dataDir: string): Promise<DataDirClaim> {
  const file = join(dataDir, "stack.pid");
  const body = JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() }) + "\n";
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, body, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw claimError(err, dataDir, file, await ownerOf(file));
      const owner = await ownerOf(file);
      // The same process may start a stack again on its directory (tests restart stacks in-process).
      if (owner !== null && owner !== process.pid && (await stillAlive(owner))) throw claimError(err, dataDir, file, owner);
      await unlink(file).catch(() => {});
    }
  }
  return {
    file,
    async release() {
      if ((await ownerOf(file)) === process.pid) await unlink(file).catch(() => {});
    },
  };
}

function claimError(err: unknown, dataDir: string, file: string, owner: number | null): Error {
  if (owner === null || owner === process.pid) return err as Error;
  return new Error(
    `Another local stack (process ${owner}) is using the data directory ${dataDir}. ` +
      `Stop it first (Ctrl-C in its terminal, or kill ${owner}), or give this one its own data with LOCAL_DATA_DIR=<another folder>. ` +
      `(If process ${owner} is not a stack, delete ${file}.)`,
  );
}
