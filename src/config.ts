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
import type { AlertConfig } from "./alerts/evaluate-alerts.ts";

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
/**
 * Supabase's hosted functions sit behind Cloudflare, which sets
 * CF-Connecting-IP to the address that connected to it, replacing any copy
 * the client sent (Cloudflare's "HTTP request headers" reference).
 */
export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";
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

/** A whole number ≥ 0 (0 = off); `fallback` when unset. */
const wholeNumber = <T extends number | undefined>(fallback: T) =>
  z.string().trim().optional().transform((v, ctx): number | T => {
    if (!v) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      ctx.addIssue({ code: "custom", message: `must be a whole number (0 = off), got "${v}"` });
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
  RATE_LIMIT_PER_MINUTE: wholeNumber(30),
  RATE_LIMIT_GLOBAL_PER_MINUTE: wholeNumber(undefined),
  CLIENT_IP_HEADER: z.string().trim().optional().transform((v, ctx) => {
    if (!v) return DEFAULT_CLIENT_IP_HEADER;
    if (!/^[A-Za-z0-9-]{1,64}$/.test(v)) {
      ctx.addIssue({ code: "custom", message: `must be an HTTP header name, got "${v}"` });
      return z.NEVER;
    }
    return v.toLowerCase();
  }),
  TRUSTED_PROXY_HOPS: positiveInt(1),
  STRIPE_REQUEST_INTERVAL_MS: wholeNumber(5_000),
  CRM_RETRY_SCHEDULE: optionalText,
  CRM_RETENTION_DAYS: positiveInt(DEFAULT_RETENTION_DAYS),
  SUPABASE_ANON_KEY: optionalText,
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
  ALERT_WEBHOOK_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), "must be an http(s) URL"),
  ALERT_PENDING_AGE: optionalText,
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
  /** Calls per minute and function from all clients together; 0 = no cap. */
  rateLimitGlobalPerMinute: number;
  /** Where the client's address comes from: one header, set by the platform's gateway. */
  clientIp: {
    header: string;
    /** The entry counted from the right of a comma-separated list (1 = the last, appended by the nearest proxy). */
    trustedProxyHops: number;
  };
  /** Least time between two Stripe calls create-payment-intent makes for one request; 0 = no wait. */
  stripeRequestIntervalMs: number;
  /** CONTRACT §6: incident messages to a chat webhook (off when the URL is unset). */
  alerts: AlertConfig;
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
  const pendingAge = /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(e.ALERT_PENDING_AGE ?? "15m") ? parseRetrySchedule(e.ALERT_PENDING_AGE ?? "15m")[0] : 0;
  if (!(pendingAge > 0)) throw new ConfigError(`ALERT_PENDING_AGE must be one duration such as 15m, got "${e.ALERT_PENDING_AGE}"`);
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
    // Unset: 100 clients' worth, and off with the per-client limit.
    rateLimitGlobalPerMinute: e.RATE_LIMIT_GLOBAL_PER_MINUTE ?? e.RATE_LIMIT_PER_MINUTE * 100,
    clientIp: { header: e.CLIENT_IP_HEADER, trustedProxyHops: e.TRUSTED_PROXY_HOPS },
    stripeRequestIntervalMs: e.STRIPE_REQUEST_INTERVAL_MS,
    alerts: { webhookUrl: e.ALERT_WEBHOOK_URL, pendingAgeMs: pendingAge },
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
