import { HttpError } from "./http-error.ts";
import type { Logger } from "../log.ts";

export function jsonResponse(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** The single place where a thrown value becomes an HTTP answer. */
export function toErrorResponse(err: unknown, log: Logger): Response {
  if (err instanceof HttpError) {
    const error: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.fields) error.fields = err.fields;
    return jsonResponse({ error }, err.status, err.headers);
  }
  if (isDatabaseUnavailable(err)) {
    log.error("database unavailable", { error: describe(err) });
    return jsonResponse(
      { error: { code: "service_unavailable", message: "The service is briefly unavailable. Please try again." } },
      503,
      { "retry-after": "5" },
    );
  }
  log.error("unhandled error", { error: describe(err) });
  return jsonResponse({ error: { code: "internal_error", message: "Something went wrong on our side." } }, 500);
}

// Socket-level failures (the database restarting, a dropped connection) and
// postgres.js's connection errors: the client may retry, so 503, not 500.
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH",
  "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED",
  "53300", // too_many_connections
]);

function isDatabaseUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? "");
  // Class 08 (connection exception) and 57P0x (admin/crash shutdown, cannot connect now).
  return UNAVAILABLE_CODES.has(code) || code.startsWith("08") || /^57P0\d$/.test(code);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
