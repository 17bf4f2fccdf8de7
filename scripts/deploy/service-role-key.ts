/**
 * Is SUPABASE_SERVICE_ROLE_KEY really this project's service-role key? Read
 * offline: a legacy key is a JWT whose payload names its `role` (and `ref`,
 * the project); the signature cannot be checked without the project's JWT
 * secret, so this catches the mistakes people make — the anon key, the public
 * demo keys of Supabase's local stack, another project's key — not a forgery.
 * New-style secret keys (`sb_secret_…`) are not JWTs and are accepted by shape.
 * Messages never quote the key.
 */
import { LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY } from "../local/dev-keys.ts";

export const WHERE_TO_COPY =
  "copy the service_role key from the dashboard: Project Settings → API Keys → \"Legacy API keys\" → service_role (Reveal), " +
  "or a secret key (sb_secret_…) from Project Settings → API Keys";

/** The demo JWTs `supabase start` prints (and the local stack uses): public, they open nothing in production. */
const DEMO_KEYS = new Set([LOCAL_ANON_KEY, LOCAL_SERVICE_ROLE_KEY]);

export type KeyKind = "legacy-jwt" | "secret-key";

export interface KeyCheck {
  ok: boolean;
  kind?: KeyKind;
  /** The project ref the JWT names, when it names one. */
  ref?: string;
  problem?: string;
}

/** The payload of a JWT (base64url JSON), or undefined when it is not one. */
export function jwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return undefined;
  try {
    const json = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return json && typeof json === "object" && !Array.isArray(json) ? json : undefined;
  } catch {
    return undefined;
  }
}

export function checkServiceRoleKey(key: string, name = "SUPABASE_SERVICE_ROLE_KEY"): KeyCheck {
  if (/^sb_secret_[A-Za-z0-9_-]{16,}$/.test(key)) return { ok: true, kind: "secret-key" };
  if (/^sb_publishable_/.test(key)) {
    return { ok: false, problem: `${name} is a publishable key (sb_publishable_…), which anyone may see: ${WHERE_TO_COPY}.` };
  }
  const payload = jwtPayload(key);
  if (!payload) {
    return { ok: false, problem: `${name} is neither a JWT (eyJ…) nor a secret key (sb_secret_…): ${WHERE_TO_COPY}.` };
  }
  if (DEMO_KEYS.has(key) || payload.iss === "supabase-demo") {
    return {
      ok: false,
      problem: `${name} is the public demo key of Supabase's local stack (the one \`supabase start\` and \`npm start\` print), not your project's: ${WHERE_TO_COPY}.`,
    };
  }
  const role = payload.role;
  if (role === "anon") {
    return { ok: false, problem: `${name} is the anon key (role "anon", the one the website sends): ${WHERE_TO_COPY}.` };
  }
  if (role !== "service_role") {
    const said = typeof role === "string" ? `role "${role.slice(0, 40)}"` : "no role claim";
    return { ok: false, problem: `${name} is a JWT with ${said}, not role "service_role": ${WHERE_TO_COPY}.` };
  }
  return { ok: true, kind: "legacy-jwt", ref: typeof payload.ref === "string" ? payload.ref : undefined };
}
