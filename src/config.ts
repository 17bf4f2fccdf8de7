/**
 * All configuration is read and validated here, once, from a plain record of
 * environment variables (`Deno.env.toObject()` or `process.env`). The rest of
 * the core receives the typed `Config` and never touches the environment.
 */
import { z } from "zod";
import { DESTINATIONS } from "./destinations/registry.ts";
import type { RateLimit } from "./destinations/types.ts";
import type { ActiveDestination } from "./outbox/outbox.ts";
import { parseRetrySchedule } from "./outbox/retry-schedule.ts";

export { DEFAULT_MONELEC_API_URL } from "./destinations/monelec/index.ts";
export const DEFAULT_SITE_URL = "https://www.demande-raccordement.fr";
export const DEFAULT_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";
/**
 * Connections per isolate and function. Measured (scripts/bench/pool-size.ts):
 * 1, 2, 4 and 8 serve form-start equally fast within run-to-run noise; two keep
 * one slow statement or a background delivery from stalling every request of the
 * isolate, and leave room under Supabase's connection limits (docs/operations.md, "Pool size").
 */
export const DEFAULT_POOL_MAX = 2;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
/** Finished deliveries, their events and attempt logs are deleted this many days on (docs/operations.md, "Retention"). */
export const DEFAULT_RETENTION_DAYS = 30;

const optionalText = z.string().trim().optional().transform((v) => (v ? v : undefined));
const positiveInt = (fallback: number) =>
  z.string().trim().optional().transform((v, ctx) => {
    if (!v) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      ctx.addIssue({ code: "custom", message: `must be a positive integer, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

const EnvSchema = z.object({
  DATABASE_URL: optionalText,
  SUPABASE_DB_URL: optionalText,
  DB_POOL_MAX: positiveInt(DEFAULT_POOL_MAX),
  DB_STATEMENT_TIMEOUT_MS: positiveInt(DEFAULT_STATEMENT_TIMEOUT_MS),
  DB_LOCK_TIMEOUT_MS: positiveInt(DEFAULT_LOCK_TIMEOUT_MS),
  MONELEC_API_URL: optionalText,
  MONELEC_API_KEY: optionalText,
  STRIPE_SECRET_KEY: optionalText,
  STRIPE_WEBHOOK_SECRET: optionalText,
  STRIPE_API_URL: optionalText,
  SITE_URL: optionalText,
  ALLOWED_ORIGINS: optionalText,
  CRM_TIMEOUT_MS: positiveInt(10_000),
  RATE_LIMIT_PER_MINUTE: z.string().trim().optional().transform((v, ctx) => {
    if (!v) return 30;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      ctx.addIssue({ code: "custom", message: `must be a whole number (0 = off), got "${v}"` });
      return z.NEVER;
    }
    return n;
  }),
  CRM_RETRY_SCHEDULE: optionalText,
  CRM_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION_DAYS),
  SUPABASE_ANON_KEY: optionalText,
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
});

export interface Config {
  databaseUrl: string;
  dbPoolMax: number;
  /** Longest a statement may run / wait for a lock before Postgres cancels it. */
  dbStatementTimeoutMs: number;
  dbLockTimeoutMs: number;
  crm: {
    /** One HTTP call's time limit. */
    timeoutMs: number;
    /** Delays in ms between attempts; its length + 1 is the number of attempts. */
    retryScheduleMs: number[];
    /** Days delivered, discarded and superseded deliveries (and their events, attempt logs) are kept. */
    retentionDays: number;
  };
  /** The enabled destinations (CONTRACT §5); none = bridge off, events are kept as skipped. */
  destinations: ActiveDestination[];
  stripe: {
    secretKey: string | undefined;
    webhookSecret: string | undefined;
    apiUrl: string | undefined;
  };
  siteUrl: string;
  /** Exact origins, or `scheme://host:*` patterns that accept any port. */
  allowedOrigins: string[];
  serviceRoleKey: string | undefined;
  /** Form submissions per client IP per minute and function; 0 = no limit. */
  rateLimitPerMinute: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ");
    throw new ConfigError(`Invalid environment: ${problems}`);
  }
  const e = parsed.data;
  const databaseUrl = e.DATABASE_URL ?? e.SUPABASE_DB_URL;
  if (!databaseUrl) {
    throw new ConfigError("DATABASE_URL (or SUPABASE_DB_URL) is not set: the functions need Postgres.");
  }
  let retryScheduleMs: number[];
  try {
    retryScheduleMs = parseRetrySchedule(e.CRM_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE);
  } catch (err) {
    throw new ConfigError(`CRM_RETRY_SCHEDULE ${(err as Error).message}`);
  }
  const destinations = loadDestinations(env, e.CRM_TIMEOUT_MS);
  const siteUrl = (e.SITE_URL ?? DEFAULT_SITE_URL).replace(/\/+$/, "");
  return {
    databaseUrl,
    dbPoolMax: e.DB_POOL_MAX,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbLockTimeoutMs: e.DB_LOCK_TIMEOUT_MS,
    crm: {
      timeoutMs: e.CRM_TIMEOUT_MS,
      retryScheduleMs,
      retentionDays: e.CRM_RETENTION_DAYS,
    },
    destinations,
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
      apiUrl: e.STRIPE_API_URL,
    },
    siteUrl,
    allowedOrigins: e.ALLOWED_ORIGINS
      ? e.ALLOWED_ORIGINS.split(",").map((o) => o.trim().replace(/\/+$/, "")).filter(Boolean)
      : [siteUrl],
    serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
  };
}

/** Each destination's settings, pace and lease; a misconfigured one stops the function with its variable named. */
export function loadDestinations(env: Record<string, string | undefined>, timeoutMs: number): ActiveDestination[] {
  const active: ActiveDestination[] = [];
  for (const module of DESTINATIONS) {
    let settings: unknown;
    try {
      settings = module.settings(env);
    } catch (err) {
      throw new ConfigError(`${module.name}: ${(err as Error).message}`);
    }
    if (settings === undefined) continue;
    active.push({
      name: module.name,
      module,
      settings,
      rate: rateOverride(env, module.name) ?? module.rateLimit(settings),
      leaseMs: timeoutMs * module.maxCallsPerDelivery + 5_000,
    });
  }
  return active;
}

/** `<NAME>_RATE_LIMIT`: deliveries per second (burst: twice that, at least 1). */
function rateOverride(env: Record<string, string | undefined>, name: string): RateLimit | undefined {
  const key = `${name.toUpperCase()}_RATE_LIMIT`;
  const raw = env[key]?.trim();
  if (!raw) return undefined;
  const perSecond = Number(raw);
  if (!Number.isFinite(perSecond) || perSecond <= 0) throw new ConfigError(`${key} must be a positive number of deliveries per second, got "${raw}"`);
  return { perSecond, burst: Math.max(1, perSecond * 2) };
}
