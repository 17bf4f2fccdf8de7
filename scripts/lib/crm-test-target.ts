/**
 * Where `npm run crm -- test` checks the CRM: MONELEC_API_URL when set; else,
 * when the database is the local stack's (no DATABASE_URL/SUPABASE_DB_URL, or
 * the local default), the local stack's CRM sandbox on CRM_SANDBOX_PORT —
 * the CRM that stack delivers to; else the real CRM's default URL.
 */
import { DEFAULT_MONELEC_API_URL } from "../../src/config.ts";
import { databaseUrlFromEnv, localDatabaseUrl } from "./database-url.ts";
import { DEFAULT_PORTS, portFromEnv } from "./ports.ts";

export interface CrmTestTarget {
  url: string;
  /** Why this URL, for the operator. */
  source: string;
}

export function crmTestTarget(env: Record<string, string | undefined>): CrmTestTarget {
  if (env.MONELEC_API_URL) return { url: env.MONELEC_API_URL.replace(/\/+$/, ""), source: "MONELEC_API_URL" };
  const localDb = localDatabaseUrl(Number(env.DB_PORT || DEFAULT_PORTS.DB_PORT));
  if (databaseUrlFromEnv(env) === localDb) {
    const port = portFromEnv(env, "CRM_SANDBOX_PORT");
    return {
      url: `http://127.0.0.1:${port}/api/external`,
      source: "the local stack's CRM sandbox (CRM_SANDBOX_PORT; set MONELEC_API_URL to check another CRM)",
    };
  }
  return { url: DEFAULT_MONELEC_API_URL, source: "the default MONELEC_API_URL" };
}
