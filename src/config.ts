/**
 * All configuration is read and validated here, once, from a plain record of
 * environment variables (`Deno.env.toObject()` or `process.env`). The rest of
 * the core receives the typed `Config` and never touches the environment.
 */
import { z } from "zod";
import { parseRetrySchedule } from "./outbox/retry-schedule.ts";

export const DEFAULT_MONELEC_API_URL = "https://monelec.net/api/external";
export const DEFAULT_SITE_URL = "https://www.demande-raccordement.fr";
export const DEFAULT_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";
/**
 * Supabase's hosted functions sit behind Cloudflare, which sets
 * CF-Connecting-IP to the address that connected to it, replacing any copy
 * the client sent (Cloudflare's "HTTP request headers" reference).
 */
export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";

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
  DB_POOL_MAX: positiveInt(4),
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
  SUPABASE_ANON_KEY: optionalText,
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
});

export interface Config {
  databaseUrl: string;
  dbPoolMax: number;
  crm: {
    /** Base URL without trailing slash; endpoints are appended to it. */
    apiUrl: string;
    /** Unset = bridge off: events are stored as `skipped`. */
    apiKey: string | undefined;
    timeoutMs: number;
    /** Delays in ms between attempts; its length + 1 is the number of attempts. */
    retryScheduleMs: number[];
    /** How long a claimed event stays invisible to other deliverers. */
    leaseMs: number;
  };
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
  const siteUrl = (e.SITE_URL ?? DEFAULT_SITE_URL).replace(/\/+$/, "");
  return {
    databaseUrl,
    dbPoolMax: e.DB_POOL_MAX,
    crm: {
      apiUrl: (e.MONELEC_API_URL ?? DEFAULT_MONELEC_API_URL).replace(/\/+$/, ""),
      apiKey: e.MONELEC_API_KEY,
      timeoutMs: e.CRM_TIMEOUT_MS,
      retryScheduleMs,
      leaseMs: e.CRM_TIMEOUT_MS + 5_000,
    },
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
  };
}
