/**
 * The console's access rule: every route needs the access token printed at
 * start-up — from the `token` query parameter (first load; it then lives in
 * an HttpOnly SameSite=Strict cookie), the cookie, or the `x-console-token`
 * header. Actions (POST) need the header itself: a cookie alone never
 * authorises a change (CSRF). Compared in constant time. The Host header must
 * name the loopback address the console listens on (DNS rebinding), unless the
 * operator allowed remote access explicitly.
 */
import { timingSafeEqual } from "../runtime/timing-safe-equal.ts";

export const TOKEN_COOKIE = "console_token";
export const TOKEN_HEADER = "x-console-token";

export function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export type AuthResult = "ok" | "ok_via_query" | "denied";

export function authorize(req: Request, url: URL, token: string): AuthResult {
  const header = req.headers.get(TOKEN_HEADER);
  if (header !== null) return timingSafeEqual(header, token) ? "ok" : "denied";
  if (req.method !== "GET" && req.method !== "HEAD") return "denied";
  const query = url.searchParams.get("token");
  if (query !== null) return timingSafeEqual(query, token) ? "ok_via_query" : "denied";
  const cookie = cookieValue(req.headers.get("cookie"), TOKEN_COOKIE);
  return cookie !== undefined && timingSafeEqual(cookie, token) ? "ok" : "denied";
}

export function sessionCookie(token: string): string {
  return `${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/** Hosts a loopback console answers to: 127.0.0.1, localhost and [::1], on its port. */
export function isLoopbackHost(host: string | null, port: number): boolean {
  if (!host) return false;
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host.toLowerCase());
}

/** A random access token: 32 bytes, base64url. */
export function newAccessToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
