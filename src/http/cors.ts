/**
 * CORS for the browser-facing functions. An origin is allowed when it equals
 * an entry of ALLOWED_ORIGINS or matches a `scheme://host:*` entry (any port).
 */
const ALLOW_HEADERS = "authorization, x-client-info, apikey, content-type, idempotency-key";

export function isOriginAllowed(origin: string, allowed: string[]): boolean {
  return allowed.some((entry) => {
    if (entry === "*") return true;
    if (entry.endsWith(":*")) {
      const base = entry.slice(0, -2);
      return origin === base || (origin.startsWith(base + ":") && /^\d+$/.test(origin.slice(base.length + 1)));
    }
    return origin === entry;
  });
}

export function corsHeaders(origin: string | null, allowed: string[]): Record<string, string> {
  const headers: Record<string, string> = { vary: "Origin" };
  if (origin && isOriginAllowed(origin, allowed)) {
    headers["access-control-allow-origin"] = origin;
    headers["access-control-allow-headers"] = ALLOW_HEADERS;
    headers["access-control-allow-methods"] = "POST, OPTIONS";
    headers["access-control-max-age"] = "86400";
  }
  return headers;
}
