/**
 * Before anything is sent: which project (linked, or named), and is the
 * Supabase CLI logged in. Both answer with an actionable message when not.
 * The CLI is reached through an injected runner, so tests never touch the network.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_REF } from "./plan.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type CliRunner = (args: string[]) => Promise<CliResult>;

export type Check<T> = { ok: true; value: T; note: string } | { ok: false; message: string };

export const NOT_LINKED_MESSAGE = [
  "This checkout is not linked to a Supabase project, and no project ref was given.",
  "Do one of:",
  "  npx supabase link <project-ref>              (once; writes supabase/.temp/project-ref)",
  "  npm run deploy -- --project-ref <project-ref>",
  "  SUPABASE_PROJECT_REF=<project-ref> npm run deploy",
  "The ref is the 20 letters in https://supabase.com/dashboard/project/<project-ref>.",
].join("\n");

export const NOT_LOGGED_IN_MESSAGE = [
  "The Supabase CLI is not logged in.",
  "Do one of:",
  "  npx supabase login                            (opens the browser once, stores the token)",
  "  export SUPABASE_ACCESS_TOKEN=sbp_…            (a token from https://supabase.com/dashboard/account/tokens; for CI)",
  "then run npm run deploy again.",
].join("\n");

/** The linked ref as the CLI stores it (`supabase link`), if any. */
export function linkedProjectRef(root: string): string | undefined {
  const refFile = join(root, "supabase", ".temp", "project-ref");
  if (existsSync(refFile)) return readFileSync(refFile, "utf8").trim() || undefined;
  const linked = join(root, "supabase", ".temp", "linked-project.json");
  if (existsSync(linked)) {
    try {
      const ref = JSON.parse(readFileSync(linked, "utf8")).ref;
      return typeof ref === "string" && ref ? ref : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `--project-ref` first, then SUPABASE_PROJECT_REF, then the linked project. */
export function resolveProjectRef(opts: { flag?: string; env: Record<string, string | undefined>; linked?: string }): Check<string> {
  const candidates: [string | undefined, string][] = [
    [opts.flag, "--project-ref"],
    [opts.env.SUPABASE_PROJECT_REF, "SUPABASE_PROJECT_REF"],
    [opts.linked, "supabase/.temp/project-ref (supabase link)"],
  ];
  for (const [value, source] of candidates) {
    if (value === undefined || value.trim() === "") continue;
    const ref = value.trim();
    if (!PROJECT_REF.test(ref)) {
      return { ok: false, message: `${source} holds "${ref}", which is not a project ref (20 lowercase letters, as in the dashboard URL).` };
    }
    return { ok: true, value: ref, note: `project ${ref} (from ${source})` };
  }
  return { ok: false, message: NOT_LINKED_MESSAGE };
}

/** Logged in = SUPABASE_ACCESS_TOKEN is set, or `supabase projects list` succeeds with the stored token. */
export async function checkLoggedIn(env: Record<string, string | undefined>, run: CliRunner): Promise<Check<"token" | "login">> {
  if (env.SUPABASE_ACCESS_TOKEN?.trim()) {
    return { ok: true, value: "token", note: "logged in (SUPABASE_ACCESS_TOKEN)" };
  }
  let result: CliResult;
  try {
    result = await run(["projects", "list"]);
  } catch (err) {
    return { ok: false, message: `Could not run the Supabase CLI: ${(err as Error).message}\n(run npm install: the CLI comes with the "supabase" npm package)` };
  }
  if (result.code === 0) return { ok: true, value: "login", note: "logged in (supabase login)" };
  const said = (result.stderr || result.stdout).split("\n").map((l) => l.trim()).find(Boolean);
  return { ok: false, message: `${NOT_LOGGED_IN_MESSAGE}${said ? `\n(the CLI said: ${said})` : ""}` };
}
