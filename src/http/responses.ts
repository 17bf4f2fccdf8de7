import { errorMessage } from "../i18n/error-messages.ts";
import { fieldMessage } from "../i18n/field-messages.ts";
import { type Locale, negotiateLocale } from "../i18n/locale.ts";
import type { Logger } from "../log.ts";
import { HttpError } from "./http-error.ts";

export function jsonResponse(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/**
 * The single place where a thrown value becomes an HTTP answer, in the
 * language the request's `Accept-Language` prefers (French by default).
 */
export function toErrorResponse(err: unknown, log: Logger, req?: Request): Response {
  const locale = negotiateLocale(req?.headers.get("accept-language"));
  const language = { "content-language": locale };
  if (err instanceof HttpError) {
    return jsonResponse({ error: renderHttpError(err, locale) }, err.status, { ...err.headers, ...language });
  }
  if (isDatabaseUnavailable(err)) {
    log.error("database unavailable", { error: describe(err) });
    return jsonResponse(
      { error: { code: "service_unavailable", message: errorMessage("service_unavailable", locale)! } },
      503,
      { "retry-after": "5", ...language },
    );
  }
  log.error("unhandled error", { error: describe(err) });
  return jsonResponse({ error: { code: "internal_error", message: errorMessage("internal_error", locale)! } }, 500, language);
}

/** `{code, message, fields?, codes?}` of an HttpError in `locale`. */
export function renderHttpError(err: HttpError, locale: Locale): Record<string, unknown> {
  const retryAfter = Number(err.headers?.["retry-after"]);
  const params = { ...(Number.isFinite(retryAfter) ? { seconds: retryAfter } : {}), ...err.params };
  const message = locale === "en"
    ? err.en ?? errorMessage(err.code, "en", params) ?? err.message
    : errorMessage(err.code, locale, params) ?? err.fr ?? err.message;
  const error: Record<string, unknown> = { code: err.code, message };
  // Null-prototype maps: a path may be any key a visitor sent, `__proto__` included.
  const fields: Record<string, string> = Object.assign(Object.create(null), err.fields);
  const codes: Record<string, string> = Object.create(null);
  for (const [path, issue] of Object.entries(err.issues ?? {})) {
    fields[path] = fieldMessage(issue.code, locale, issue.params) ?? issue.code;
    codes[path] = issue.code;
  }
  if (Object.keys(fields).length > 0) error.fields = fields;
  if (Object.keys(codes).length > 0) error.codes = codes;
  return error;
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
