/**
 * Local settings from a git-ignored env file — Supabase's convention,
 * `supabase/functions/.env` (see supabase/functions/.env.example) — so that
 * `npm start`, `npm run crm` and the console, in any terminal, agree on the
 * ports, keys and URLs without repeating them. The environment wins over the
 * file; an empty value in the file means the default. LOCAL_ENV_FILE names
 * another file (relative to the repository root); LOCAL_ENV_FILE= reads none.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnvFile } from "./parse-env-file.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const LOCAL_ENV_FILE = "supabase/functions/.env";

export type Env = Record<string, string | undefined>;

/** The env file's path for this environment, or null when none is to be read. */
export function localEnvFile(env: Env = process.env): string | null {
  const named = env.LOCAL_ENV_FILE ?? LOCAL_ENV_FILE;
  if (named.trim() === "") return null;
  return isAbsolute(named) ? named : join(ROOT, named);
}

/**
 * The environment with the env file's values beneath it. A missing default
 * file is fine (nothing to add); a missing file named by LOCAL_ENV_FILE, or a
 * line that is not NAME=value, is an error naming the file and the line.
 */
export function loadLocalEnv(env: Env = process.env): Env {
  const file = localEnvFile(env);
  if (file === null) return { ...env };
  if (!existsSync(file)) {
    if (env.LOCAL_ENV_FILE === undefined) return { ...env };
    throw new Error(`LOCAL_ENV_FILE names ${file}, which does not exist.`);
  }
  const parsed = parseEnvFile(readFileSync(file, "utf8"));
  if (parsed.syntaxErrors.length > 0) throw new Error(`${file}: ${parsed.syntaxErrors.join("; ")}.`);
  // An empty value means "the default", as in supabase/.env.example.
  const merged: Env = Object.fromEntries([...parsed.values].filter(([, value]) => value !== ""));
  for (const [name, value] of Object.entries(env)) if (value !== undefined) merged[name] = value;
  return merged;
}
