/**
 * supabase-js `functions.invoke` errors → one typed value. A non-2xx answer
 * is a FunctionsHttpError whose `context` is the Response, carrying the
 * functions' `{"error": {code, message, fields?, codes?}}`; the gateway's own refusals
 * (e.g. a wrong key) have other shapes; no answer at all is a FunctionsFetchError.
 * Checked by name and shape rather than `instanceof`, so that two copies of
 * supabase-js in one bundle still work.
 */
import type { ClientError } from "./types.ts";

const isResponse = (v: unknown): v is Response =>
  typeof v === "object" && v !== null && typeof (v as Response).status === "number" && typeof (v as Response).headers?.get === "function";

const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function stringFields(v: unknown): Record<string, string> | undefined {
  const rec = asRecord(v);
  if (!rec) return undefined;
  const entries = Object.entries(rec).filter((e): e is [string, string] => typeof e[1] === "string");
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function retryAfter(res: Response): number | undefined {
  const value = res.headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

const statusCode = (status: number): string =>
  status === 401 || status === 403 ? "unauthorized" : status === 404 ? "not_found" : status === 429 ? "rate_limited" : status >= 500 ? "internal_error" : "unexpected_response";

/** Reads the error out of a non-2xx Response (once: the body is consumed). */
export async function errorFromResponse(res: Response): Promise<ClientError> {
  const status = res.status;
  const wait = retryAfter(res);
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    body = undefined;
  }
  const error = asRecord(asRecord(body)?.error);
  const result: ClientError =
    error && typeof error.code === "string" && typeof error.message === "string"
      ? {
          status,
          code: error.code,
          message: error.message,
          ...(stringFields(error.fields) ? { fields: stringFields(error.fields) } : {}),
          ...(stringFields(error.codes) ? { codes: stringFields(error.codes) } : {}),
        }
      : {
          // The Supabase gateway: {"code": 401, "message": "Invalid JWT"} or {"msg": "…"}.
          status,
          code: typeof asRecord(body)?.code === "string" ? (asRecord(body)!.code as string) : statusCode(status),
          message: String(asRecord(body)?.message ?? asRecord(body)?.msg ?? `The function answered HTTP ${status}.`),
        };
  if (wait !== undefined) result.retryAfterSeconds = wait;
  return result;
}

/** Any `error` from `functions.invoke` (or thrown around it) → ClientError. */
export async function toClientError(error: unknown, response?: Response): Promise<ClientError> {
  const name = (error as { name?: unknown })?.name;
  const context = (error as { context?: unknown })?.context;
  if (name === "FunctionsHttpError") {
    const res = isResponse(context) ? context : response;
    if (res) return errorFromResponse(res);
  }
  if (name === "FunctionsRelayError") {
    const res = isResponse(context) ? context : response;
    return {
      status: res?.status ?? 502,
      code: "relay_error",
      message: "Supabase could not reach the function. Please try again.",
    };
  }
  if (name === "FunctionsFetchError" || name === "AbortError" || name === "TypeError") {
    const cause = asRecord(context);
    const detail = typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : "";
    return {
      status: 0,
      code: "network_error",
      message: `No answer from the server (offline, blocked or timed out)${detail ? `: ${detail}` : ""}.`,
    };
  }
  return {
    status: response?.status ?? 0,
    code: "unexpected_response",
    message: error instanceof Error ? error.message : "Unexpected error calling the function.",
  };
}
