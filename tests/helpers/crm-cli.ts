import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `npm run crm -- <args>` the way an operator would (tsx scripts/crm.ts). */
export function crmCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      `${ROOT}node_modules/.bin/tsx`,
      ["scripts/crm.ts", ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root", LOCAL_ENV_FILE: "", ...env }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
