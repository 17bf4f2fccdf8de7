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

export const MANAGEMENT_API_URL = "https://api.supabase.com";

export interface ManagementApi {
  /** Base URL (tests: a stand-in on loopback). */
  url: string;
  fetch: typeof fetch;
}

/**
 * SUPABASE_ACCESS_TOKEN, tried for real: `GET /v1/projects/<ref>` on the
 * Management API (Authorization: Bearer <token>), which answers 401 for a
 * token that is wrong, expired or revoked, and 403/404 when the account
 * behind it cannot reach that project.
 */
export async function verifyAccessToken(token: string, projectRef: string, api: ManagementApi): Promise<Check<"token">> {
  const url = `${api.url.replace(/\/+$/, "")}/v1/projects/${projectRef}`;
  let res: Response;
  try {
    res = await api.fetch(url, { headers: { authorization: `Bearer ${token}`, accept: "application/json" }, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return {
      ok: false,
      message:
        `Could not reach the Supabase Management API (${new URL(url).origin}) to check SUPABASE_ACCESS_TOKEN: ${cause}.\n` +
        "Check this machine's network (proxy, firewall, DNS), then run npm run deploy again.",
    };
  }
  await res.body?.cancel();
  if (res.ok) return { ok: true, value: "token", note: `logged in (SUPABASE_ACCESS_TOKEN, accepted for project ${projectRef})` };
  if (res.status === 401) {
    return { ok: false, message: `SUPABASE_ACCESS_TOKEN was refused by Supabase (401: wrong, expired or revoked).\n${NOT_LOGGED_IN_MESSAGE}` };
  }
  if (res.status === 403 || res.status === 404) {
    return {
      ok: false,
      message:
        `SUPABASE_ACCESS_TOKEN is valid but cannot reach project ${projectRef} (${res.status}): the project ref is wrong, ` +
        "or the token belongs to an account (or is scoped to projects) without it. Check the ref in the dashboard URL, " +
        "or make a token at https://supabase.com/dashboard/account/tokens with access to this project.",
    };
  }
  return { ok: false, message: `The Supabase Management API answered ${res.status} when checking SUPABASE_ACCESS_TOKEN; try again in a minute.` };
}

/**
 * Logged in = SUPABASE_ACCESS_TOKEN is accepted by the Management API for this
 * project, or (no token in the environment) `supabase projects list` succeeds
 * with the token `supabase login` stored — both real calls.
 */
export async function checkLoggedIn(
  env: Record<string, string | undefined>,
  run: CliRunner,
  target: { projectRef: string; api: ManagementApi },
): Promise<Check<"token" | "login">> {
  const token = env.SUPABASE_ACCESS_TOKEN?.trim();
  if (token) return verifyAccessToken(token, target.projectRef, target.api);
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
