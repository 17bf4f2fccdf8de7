/**
 * HTTP helpers every destination uses: one call with its failure already
 * classified the common way (CONTRACT §3: 2xx delivered; network error,
 * timeout, 408, 425, 429, 5xx retried honouring Retry-After; any other status
 * permanent), and the answer's excerpt for the attempt log.
 */
import { parseRetryAfter } from "../outbox/retry-schedule.ts";
import type { AttemptOutcome, DestinationContext } from "./types.ts";

export const EXCERPT_BYTES = 2048;
const RETRYABLE = new Set([408, 425, 429]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE.has(status) || status >= 500;
}

/** The start of a body, whitespace folded, at most EXCERPT_BYTES bytes of UTF-8. */
export function excerptOf(text: string): string {
  const folded = text.replace(/\s+/g, " ").trim();
  const bytes = new TextEncoder().encode(folded);
  if (bytes.length <= EXCERPT_BYTES) return folded;
  return new TextDecoder().decode(bytes.slice(0, EXCERPT_BYTES - 3)).replace(/\uFFFD$/, "") + "…";
}

/** The common classification of a non-2xx answer whose body was already read. */
export function classifyStatus(res: Response, bodyText: string, hint = ""): AttemptOutcome {
  const excerpt = excerptOf(bodyText);
  const error = `HTTP ${res.status}${excerpt ? `: ${excerpt.slice(0, 300)}` : ""}`;
  if (isRetryableStatus(res.status)) {
    return { kind: "retry", httpStatus: res.status, error, retryAfterMs: parseRetryAfter(res.headers.get("retry-after")), excerpt };
  }
  if (res.status >= 300 && res.status < 400) {
    const where = res.headers.get("location");
    return { kind: "dead", httpStatus: res.status, error: `${error} (redirect to ${where}${hint ? `; check ${hint}` : ""})`, excerpt };
  }
  return { kind: "dead", httpStatus: res.status, error, excerpt };
}

export function networkFailure(err: unknown): AttemptOutcome {
  const name = (err as Error)?.name;
  const message = (err as Error)?.message ?? String(err);
  if (name === "TimeoutError" || name === "AbortError") {
    return { kind: "retry", httpStatus: null, error: message.startsWith("after ") ? `timeout ${message}` : `timeout: ${message}` };
  }
  return { kind: "retry", httpStatus: null, error: `network error: ${message}` };
}

export type CallResult<T = unknown> =
  | { ok: true; status: number; headers: Headers; body: T; text: string }
  | { ok: false; outcome: AttemptOutcome; status: number | null; text: string };

/**
 * One call: a 2xx gives its parsed JSON body (null when empty or not JSON),
 * anything else the classified outcome. `classify` may override the common
 * classification for vendor specifics (return undefined to keep it).
 */
export async function call<T = unknown>(
  ctx: Pick<DestinationContext, "fetch">,
  input: string | Request,
  init?: RequestInit,
  classify?: (res: Response, text: string) => AttemptOutcome | undefined,
): Promise<CallResult<T>> {
  let res: Response;
  let text: string;
  try {
    res = await ctx.fetch(input, init);
    text = await res.text();
  } catch (err) {
    return { ok: false, outcome: networkFailure(err), status: null, text: "" };
  }
  if (res.status >= 200 && res.status < 300) {
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { ok: true, status: res.status, headers: res.headers, body: body as T, text };
  }
  const outcome = classify?.(res, text) ?? classifyStatus(res, text);
  return { ok: false, outcome, status: res.status, text };
}

/** `{kind:"delivered"}` for a successful last call. */
export function delivered(result: { status: number; text: string }): AttemptOutcome {
  return { kind: "delivered", httpStatus: result.status, excerpt: excerptOf(result.text) };
}

/** A JSON request (POST by default). */
export function jsonInit(body: unknown, headers: Record<string, string>, method = "POST"): RequestInit {
  return { method, headers: { "content-type": "application/json", accept: "application/json", ...headers }, body: JSON.stringify(body) };
}

/**
 * The usual credentials check: an authenticated read that creates nothing.
 * 401/403 → the credentials are refused; 2xx → accepted; no answer → unreachable.
 */
export async function checkWithRead(
  ctx: Pick<DestinationContext, "fetch">,
  url: string,
  init: RequestInit,
  what: string,
): Promise<import("./types.ts").DestinationCheck> {
  let res: Response;
  try {
    res = await ctx.fetch(url, { method: "GET", ...init });
    await res.body?.cancel().catch(() => {});
  } catch (err) {
    return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${new URL(url).origin}: ${(err as Error).message} (check the URL setting).` };
  }
  const s = res.status;
  if (s === 401 || s === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: s, message: `Reachable, but the ${what} was refused (HTTP ${s}).` };
  if (s >= 200 && s < 300) return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: s, message: `Reachable, ${what} accepted (HTTP ${s}); nothing was created.` };
  if (s === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: s, message: `Reachable, but HTTP 404: the URL is probably wrong (check the URL setting).` };
  return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: s, message: `Reachable, but HTTP ${s}: could not tell whether the ${what} is valid.` };
}
