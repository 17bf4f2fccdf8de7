import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

const base = { DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db" };

describe("configuration", () => {
  it("has the contract's defaults", () => {
    const c = loadConfig(base);
    expect(c.destinations).toEqual([]); // no destination configured: the bridge is off
    expect(c.crm).toMatchObject({
      timeoutMs: 10_000,
      retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    });
    expect(c.siteUrl).toBe("https://www.demande-raccordement.fr");
    expect(c.allowedOrigins).toEqual(["https://www.demande-raccordement.fr"]);
    expect(c.rateLimitPerMinute).toBe(30);
    expect(c.rateLimitGlobalPerMinute).toBe(3000);
    expect(c.clientIp).toEqual({ header: "cf-connecting-ip", trustedProxyHops: 1 });
    expect(c.stripeRequestIntervalMs).toBe(5000);
  });

  it("the global cap follows the per-client limit unless set, and 0 turns either off", () => {
    expect(loadConfig({ ...base, RATE_LIMIT_PER_MINUTE: "0" }).rateLimitGlobalPerMinute).toBe(0);
    expect(loadConfig({ ...base, RATE_LIMIT_PER_MINUTE: "0", RATE_LIMIT_GLOBAL_PER_MINUTE: "50" }).rateLimitGlobalPerMinute).toBe(50);
    expect(loadConfig({ ...base, CLIENT_IP_HEADER: "X-Forwarded-For", TRUSTED_PROXY_HOPS: "2" }).clientIp)
      .toEqual({ header: "x-forwarded-for", trustedProxyHops: 2 });
  });

  it("falls back to SUPABASE_DB_URL, trims slashes, splits origins, treats blank as unset", () => {
    const c = loadConfig({
      SUPABASE_DB_URL: "postgres://x",
      MONELEC_API_URL: "http://crm.local/api/",
      MONELEC_API_KEY: "  ",
      ALLOWED_ORIGINS: "https://a.fr/, http://localhost:*",
    });
    expect(c.databaseUrl).toBe("postgres://x");
    expect(c.destinations).toEqual([]); // a blank key is no key
    const on = loadConfig({ ...base, MONELEC_API_KEY: "k", MONELEC_API_URL: "http://crm.local/api/" });
    expect(on.destinations.map((d) => [d.name, d.settings])).toEqual([["monelec", { apiKey: "k", apiUrl: "http://crm.local/api" }]]);
    expect(on.destinations[0].leaseMs).toBe(15_000); // one call of 10 s, plus 5 s
    expect(c.allowedOrigins).toEqual(["https://a.fr", "http://localhost:*"]);
  });

  it("explains what is wrong", () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ...base, CRM_TIMEOUT_MS: "soon" })).toThrow(/CRM_TIMEOUT_MS must be a positive integer, got "soon"/);
    expect(() => loadConfig({ ...base, CRM_RETRY_SCHEDULE: "5s,often" })).toThrow(/CRM_RETRY_SCHEDULE has "often"/);
    expect(() => loadConfig({ ...base, RATE_LIMIT_PER_MINUTE: "-1" })).toThrow(/RATE_LIMIT_PER_MINUTE/);
    expect(() => loadConfig({ ...base, MONELEC_API_KEY: "k", MONELEC_RATE_LIMIT: "fast" })).toThrow(/MONELEC_RATE_LIMIT/);
    expect(loadConfig({ ...base, MONELEC_API_KEY: "k", MONELEC_RATE_LIMIT: "3" }).destinations[0].rate).toEqual({ perSecond: 3, burst: 6 });
    expect(() => loadConfig({ ...base, CLIENT_IP_HEADER: "x forwarded: for" })).toThrow(/CLIENT_IP_HEADER must be an HTTP header name/);
    expect(() => loadConfig({ ...base, TRUSTED_PROXY_HOPS: "0" })).toThrow(/TRUSTED_PROXY_HOPS/);
    expect(() => loadConfig({ ...base, STRIPE_REQUEST_INTERVAL_MS: "soon" })).toThrow(/STRIPE_REQUEST_INTERVAL_MS/);
  });
});
