/** Runs the Supabase CLI that the `supabase` npm package installed (the version package.json pins). */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { CliResult } from "./preflight.ts";

/** The CLI's JavaScript launcher, run with this Node (works the same on every OS). */
export function supabaseCliScript(): string {
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve("supabase/package.json");
  } catch {
    throw new Error('The Supabase CLI is missing: run npm install (it comes with the "supabase" dev dependency).');
  }
  const bin = JSON.parse(readFileSync(pkgJson, "utf8")).bin;
  const script = join(dirname(pkgJson), typeof bin === "string" ? bin : bin.supabase);
  if (!existsSync(script)) throw new Error(`The Supabase CLI launcher ${script} is missing: run npm install.`);
  return script;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  /** true: output goes to this terminal and is captured too (deploy reads a failure's words); false: captured only. */
  inherit: boolean;
}

export function runSupabase(args: string[], opts: RunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [supabaseCliScript(), ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.inherit ? "inherit" : "ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // The last 64 KiB is enough to recognise an error; the terminal gets everything.
    const keep = (s: string) => (s.length > 65_536 ? s.slice(-65_536) : s);
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      if (opts.inherit) process.stdout.write(d);
      stdout = keep(stdout + d);
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (opts.inherit) process.stderr.write(d);
      stderr = keep(stderr + d);
    });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}
