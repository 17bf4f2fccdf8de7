/**
 * CONTRACT §3: a 2xx is delivered; network error, timeout, 408, 425, 429 and
 * 5xx are retried (honouring Retry-After); any other status is permanent.
 */
import { parseRetryAfter } from "../outbox/retry-schedule.ts";
import type { AttemptOutcome } from "./destination.ts";

const RETRYABLE = new Set([408, 425, 429]);

export async function classifyResponse(res: Response): Promise<AttemptOutcome> {
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel().catch(() => {});
    return { kind: "delivered", httpStatus: res.status };
  }
  const detail = await readSnippet(res);
  const error = `HTTP ${res.status}${detail ? `: ${detail}` : ""}`;
  if (RETRYABLE.has(res.status) || res.status >= 500) {
    return { kind: "retry", httpStatus: res.status, error, retryAfterMs: parseRetryAfter(res.headers.get("retry-after")) };
  }
  if (res.status >= 300 && res.status < 400) {
    const where = res.headers.get("location");
    return { kind: "dead", httpStatus: res.status, error: `${error} (redirect to ${where}; check MONELEC_API_URL)` };
  }
  return { kind: "dead", httpStatus: res.status, error };
}

export function classifyNetworkError(err: unknown, timeoutMs: number): AttemptOutcome {
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return { kind: "retry", httpStatus: null, error: `timeout after ${timeoutMs} ms` };
  }
  return { kind: "retry", httpStatus: null, error: `network error: ${(err as Error)?.message ?? String(err)}` };
}

async function readSnippet(res: Response): Promise<string> {
  try {
    return (await res.text()).slice(0, 300).replace(/\s+/g, " ").trim();
  } catch {
    return "";
  }
}
