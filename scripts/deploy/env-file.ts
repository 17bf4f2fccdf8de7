/**
 * The deploy env file (e.g. `supabase/.env.production`, git-ignored): the
 * function secrets `supabase secrets set --env-file` sends to the project, plus
 * SUPABASE_SERVICE_ROLE_KEY, which the CLI does not send as a secret (Supabase
 * sets every SUPABASE_* variable itself) and which deploy copies into Vault for
 * the crm-dispatch schedule. Checked here before anything is sent, so a
 * placeholder, a local-only value or a typo never reaches production.
 * Messages name variables, never their values.
 */
import { ConfigError, loadConfig } from "../../src/config.ts";
import { DESTINATIONS } from "../../src/destinations/registry.ts";
import { parseRetrySchedule } from "../../src/outbox/retry-schedule.ts";
import { describeDbUrl, type DbUrlInfo } from "./database-url.ts";
import { checkServiceRoleKey, type KeyKind } from "./service-role-key.ts";
import { type EnvFile, parseEnvFile } from "../lib/parse-env-file.ts";

/** Secrets the functions read (README "Configuration"); each line must be in the file. */
export const FUNCTION_SECRETS = [
  "MONELEC_API_URL",
  "MONELEC_API_KEY",
  "STRIPE_SECRET_KEY",
  "STRIPE_WEBHOOK_SECRET",
  "SITE_URL",
  "ALLOWED_ORIGINS",
  "CRM_TIMEOUT_MS",
  "CRM_RETRY_SCHEDULE",
] as const;

/** Function secrets that may be added; they have sensible defaults (DATABASE_URL: SUPABASE_DB_URL). */
export const OPTIONAL_FUNCTION_SECRETS = [
  "RATE_LIMIT_PER_MINUTE",
  "RATE_LIMIT_GLOBAL_PER_MINUTE",
  "CLIENT_IP_HEADER",
  "TRUSTED_PROXY_HOPS",
  "STRIPE_REQUEST_INTERVAL_MS",
  "DB_POOL_MAX",
  "DATABASE_URL",
  "DB_STATEMENT_TIMEOUT_MS",
  "DB_LOCK_TIMEOUT_MS",
  "ALERT_WEBHOOK_URL",
  "ALERT_PENDING_AGE",
  "CRM_RETENTION_DAYS",
] as const;

/** Must hold a value: the functions cannot work without them in production. */
const REQUIRED_VALUES = new Set(["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SITE_URL"]);

/** Deploy-only: goes to Vault (crm_dispatch_service_role_key), never to `secrets set`. */
export const SERVICE_ROLE_KEY = "SUPABASE_SERVICE_ROLE_KEY";

/**
 * Without the key in Vault the schedule never calls crm-dispatch: nothing is
 * retried and retention never runs. So deploy refuses, and says where to get it.
 */
export const MISSING_SERVICE_ROLE_KEY = (fileLabel: string) =>
  `${SERVICE_ROLE_KEY} is not in ${fileLabel}: without it Vault has no crm_dispatch_service_role_key, so the schedule ` +
  "never calls crm-dispatch — no failed delivery is ever retried and retention never runs. Add the line " +
  `${SERVICE_ROLE_KEY}=<key> to ${fileLabel}: in the dashboard, Project Settings → API Keys → "Legacy API keys" → ` +
  "service_role (Reveal). It goes to Vault only (db push), never to the function secrets.";

/** Deploy-only: the URL `supabase db push --db-url` uses (the CLI skips SUPABASE_* lines in `secrets set`). */
export const DB_PUSH_URL = "SUPABASE_DB_PUSH_URL";
const DEPLOY_ONLY = new Set([SERVICE_ROLE_KEY, DB_PUSH_URL]);

/** Local-stack variables that must not reach production. */
const LOCAL_ONLY: Record<string, string> = {
  STRIPE_API_URL: "points the Stripe SDK at a local double; production talks to Stripe itself",
  CRM_SWEEP_INTERVAL_MS: "only the local stack's timer reads it; on Supabase pg_cron checks every 5 seconds whether crm-dispatch has work",
};

export { type EnvFile, parseEnvFile };

export interface EnvCheck {
  errors: string[];
  warnings: string[];
  /** The service-role key for Vault, when the file has one. */
  serviceRoleKey: string | undefined;
  /** What kind of key it is, and the project a legacy JWT names. */
  serviceRoleKeyKind?: KeyKind;
  serviceRoleKeyRef?: string;
  /** DATABASE_URL / SUPABASE_DB_PUSH_URL from the file, when set and valid, with what they point at. */
  databaseUrl?: { value: string; info: DbUrlInfo };
  dbPushUrl?: { value: string; info: DbUrlInfo };
}

const PLACEHOLDER = /<[^>]*>|\bchange[-_ ]?me\b|\breplace[-_ ]?me\b|\byour[-_ ]|xxxxxx|\.\.\./i;

const isHttpUrl = (v: string, httpsOnly: boolean) => {
  try {
    const u = new URL(v);
    return httpsOnly ? u.protocol === "https:" : u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
};

/** Everything wrong with the file (refuse to deploy), and what merely deserves a look. */
export function checkEnvFile(file: EnvFile, fileLabel: string): EnvCheck {
  const errors = [...file.syntaxErrors.map((e) => `${fileLabel}: ${e}`)];
  const warnings: string[] = [];
  const v = file.values;
  const get = (name: string) => v.get(name) ?? "";

  const missing = FUNCTION_SECRETS.filter((name) => !v.has(name));
  if (missing.length > 0) {
    errors.push(`${fileLabel} has no line for ${missing.join(", ")} (copy every line of supabase/.env.example; an empty value means "use the default").`);
  }
  for (const name of REQUIRED_VALUES) {
    if (v.has(name) && get(name) === "") errors.push(`${name} is empty: the functions need it in production.`);
  }
  for (const [name, value] of v) {
    if (PLACEHOLDER.test(value)) errors.push(`${name} still holds the example's placeholder: put the real value in ${fileLabel}.`);
  }

  for (const name of v.keys()) {
    if (name in LOCAL_ONLY) errors.push(`${name} must not be set in production: it ${LOCAL_ONLY[name]}.`);
    else if (name.startsWith("SUPABASE_") && !DEPLOY_ONLY.has(name)) {
      errors.push(`${name}: Supabase sets the SUPABASE_* variables itself (the CLI would skip it); remove the line.`);
    } else if (
      !DEPLOY_ONLY.has(name) &&
      !(FUNCTION_SECRETS as readonly string[]).includes(name) &&
      !(OPTIONAL_FUNCTION_SECRETS as readonly string[]).includes(name) &&
      !DESTINATIONS.some((d) => name.startsWith(`${d.name.toUpperCase()}_`)) // a destination's settings (CONTRACT §5)
    ) {
      warnings.push(`${name} is not a variable the functions read (a typo?); it will be set as a secret anyway.`);
    }
  }

  const stripeKey = get("STRIPE_SECRET_KEY");
  if (stripeKey && !PLACEHOLDER.test(stripeKey)) {
    if (!/^(sk|rk)_(live|test)_/.test(stripeKey)) errors.push("STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_live_…, sk_test_… or rk_…).");
    else if (/^(sk|rk)_test_/.test(stripeKey)) warnings.push("STRIPE_SECRET_KEY is a test-mode key: no real payment will be taken.");
  }
  const whsec = get("STRIPE_WEBHOOK_SECRET");
  if (whsec && !PLACEHOLDER.test(whsec) && !whsec.startsWith("whsec_")) {
    errors.push("STRIPE_WEBHOOK_SECRET does not look like a webhook signing secret (whsec_…).");
  }
  const site = get("SITE_URL");
  if (site && !PLACEHOLDER.test(site) && !isHttpUrl(site, true)) errors.push("SITE_URL must be the site's https:// address.");
  const crmUrl = get("MONELEC_API_URL");
  if (crmUrl && !PLACEHOLDER.test(crmUrl) && !isHttpUrl(crmUrl, true)) errors.push("MONELEC_API_URL must be an https:// URL (or empty for the default).");
  if (v.has("MONELEC_API_KEY") && get("MONELEC_API_KEY") === "") {
    warnings.push("MONELEC_API_KEY is empty: the CRM bridge will be off (events kept as skipped; `npm run crm -- backfill` sends them later).");
  }
  for (const origin of get("ALLOWED_ORIGINS").split(",").map((o) => o.trim()).filter(Boolean)) {
    if (PLACEHOLDER.test(origin)) continue;
    if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      errors.push(`ALLOWED_ORIGINS: "${origin}" is not an origin (scheme://host[:port], no path).`);
    } else if (/localhost|127\.0\.0\.1|\[::1\]/.test(origin)) {
      warnings.push(`ALLOWED_ORIGINS lets ${origin} call the production functions.`);
    } else if (origin === "*") {
      warnings.push("ALLOWED_ORIGINS is *: any website may call the functions.");
    }
  }

  const databaseUrl = checkDbUrl("DATABASE_URL", get("DATABASE_URL"), errors, warnings);
  const dbPushUrl = checkDbUrl(DB_PUSH_URL, get(DB_PUSH_URL), errors, warnings);

  // The functions' own validation (numbers, retry schedule…), with a stand-in database.
  let configProblem = "";
  try {
    loadConfig({ ...Object.fromEntries(v), DATABASE_URL: "postgres://deploy-check" });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configProblem = err.message;
    errors.push(err.message);
  }
  // loadConfig stops at the first kind of problem: the schedule is checked on its own too.
  if (get("CRM_RETRY_SCHEDULE") && !configProblem.includes("CRM_RETRY_SCHEDULE")) {
    try {
      parseRetrySchedule(get("CRM_RETRY_SCHEDULE"));
    } catch (err) {
      errors.push(`CRM_RETRY_SCHEDULE ${(err as Error).message}`);
    }
  }

  const key = get(SERVICE_ROLE_KEY);
  let serviceRoleKey: string | undefined;
  let serviceRoleKeyKind: KeyKind | undefined;
  let serviceRoleKeyRef: string | undefined;
  if (!key) {
    errors.push(MISSING_SERVICE_ROLE_KEY(fileLabel));
  } else if (!PLACEHOLDER.test(key)) {
    const keyCheck = checkServiceRoleKey(key, SERVICE_ROLE_KEY);
    if (!keyCheck.ok) {
      errors.push(keyCheck.problem!);
    } else {
      serviceRoleKey = key;
      serviceRoleKeyKind = keyCheck.kind;
      serviceRoleKeyRef = keyCheck.ref;
    }
  }
  return { errors, warnings, serviceRoleKey, serviceRoleKeyKind, serviceRoleKeyRef, databaseUrl, dbPushUrl };
}

/** A Postgres URL line: empty = unset; otherwise a postgres:// URL that production can reach. */
function checkDbUrl(name: string, value: string, errors: string[], warnings: string[]): { value: string; info: DbUrlInfo } | undefined {
  if (!value || PLACEHOLDER.test(value)) return undefined;
  const info = describeDbUrl(value);
  if (!info) {
    errors.push(`${name} must be a postgres:// (or postgresql://) URL, as the dashboard's Connect button gives it.`);
    return undefined;
  }
  if (info.kind === "local") {
    errors.push(`${name} points at this machine (localhost): production cannot reach it. Use the project's URL (docs/deploy.md).`);
    return undefined;
  }
  if (name === "DATABASE_URL" && info.kind === "direct") {
    warnings.push(
      "DATABASE_URL is the direct connection (db.<ref>.supabase.co:5432): IPv6 only without the IPv4 add-on, and each function " +
        "isolate holds up to DB_POOL_MAX of the instance's few direct connections. Supabase recommends the transaction pooler " +
        "(port 6543) for Edge Functions (docs/deploy.md, \"Direct connection vs transaction pooler\").",
    );
  }
  if (info.kind === "other") {
    warnings.push(`${name} is not a Supabase database URL (db.<ref>.supabase.co or *.pooler.supabase.com); it is used as given.`);
  }
  return { value, info };
}
