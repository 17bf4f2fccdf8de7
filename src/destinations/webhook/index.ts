/**
 * Signed webhooks (CONTRACT §5) for n8n, Make, Zapier or any receiver that
 * speaks Standard Webhooks 1.0: `POST WEBHOOK_URL` with `{type, timestamp, data}`
 * and the `webhook-id` (the event id: the same on every retry), `webhook-timestamp`
 * (this attempt, Unix seconds) and `webhook-signature` headers.
 *
 * Answers, as the spec's "Delivery success and failure" suggests: 2xx delivered;
 * 410 Gone pauses the destination (the receiver wants no more); 408/425/429/5xx
 * and network errors are retried honouring Retry-After; 3xx and other 4xx are
 * dead (redirects are not followed: the spec says update the URL instead).
 *
 * WEBHOOK_URL often is a capability (Make and Zapier hook URLs accept anyone
 * who knows them), so no message, error or log carries more than its origin.
 */
import { call, classifyStatus, delivered, excerptOf } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationModule } from "../types.ts";
import { webhookBody } from "./mapping.ts";
import { decodeSecret, parseSecrets, SECRET_PREFIX, signatureHeader, toBase64 } from "./signature.ts";

export interface WebhookSettings {
  url: string;
  /** The `whsec_…` secrets; every one signs (several only during a rotation). */
  secrets: string[];
  /** WEBHOOK_RATE_LIMIT, deliveries per second. */
  ratePerSecond?: number;
}

/** No vendor limit: a pace any n8n/Make/Zapier hook absorbs while a backlog drains. */
export const DEFAULT_WEBHOOK_RATE = { perSecond: 50, burst: 100 };
/** The local double's fixed secret: 32 bytes of readable ASCII, obviously not a real one. */
export const LOCAL_WEBHOOK_SECRET = SECRET_PREFIX + toBase64(new TextEncoder().encode("local-webhook-double-secret-32by"));
/** Where the local double listens under its base URL. */
export const LOCAL_WEBHOOK_PATH = "/hooks/crm-events";

/** The URL as messages may show it: its origin, the rest (often a token) elided. */
export function shownUrl(url: string): string {
  const u = new URL(url);
  return u.pathname === "/" && !u.search ? u.origin : `${u.origin}/…`;
}

function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error("WEBHOOK_URL must be an absolute http(s) URL (e.g. https://n8n.example.fr/webhook/crm).");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`WEBHOOK_URL must be http(s), not ${u.protocol}`);
  if (u.username || u.password) throw new Error("WEBHOOK_URL must not carry user:password@ (fetch refuses it); the signature authenticates the sender.");
  return u.href;
}

function parseRate(value: string | undefined): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`WEBHOOK_RATE_LIMIT must be a positive number of deliveries per second, got "${v}".`);
  return n;
}

function isLoopback(url: string): boolean {
  const h = new URL(url).hostname;
  return h === "localhost" || h === "[::1]" || h.startsWith("127.");
}

export const webhook: DestinationModule<WebhookSettings> = {
  name: "webhook",
  maxCallsPerDelivery: 1,
  settings(env) {
    const url = env.WEBHOOK_URL?.trim();
    const secret = env.WEBHOOK_SECRET?.trim();
    if (!url && !secret) return undefined;
    if (!url) throw new Error("WEBHOOK_SECRET is set but WEBHOOK_URL is not: set both to enable the webhook destination.");
    if (!secret) throw new Error("WEBHOOK_URL is set but WEBHOOK_SECRET is not: set it to the receiver's whsec_… signing secret.");
    return { url: parseUrl(url), secrets: parseSecrets(secret), ratePerSecond: parseRate(env.WEBHOOK_RATE_LIMIT) };
  },
  rateLimit(s) {
    if (!s.ratePerSecond) return { ...DEFAULT_WEBHOOK_RATE };
    return { perSecond: s.ratePerSecond, burst: Math.max(1, Math.ceil(s.ratePerSecond * 2)) };
  },
  async deliver(event, s, ctx) {
    const body = webhookBody(event);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/json",
      "webhook-id": event.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": await signatureHeader(s.secrets, event.id, timestamp, body),
    };
    const result = await call(ctx, s.url, { method: "POST", headers, body, redirect: "manual" }, (res, text) => classify(res, text, s.url));
    if (result.ok) return delivered(result);
    return withoutUrl(result.outcome, s.url);
  },
  async test(s, ctx): Promise<DestinationCheck> {
    // A webhook has no read endpoint, and any signed POST would run the receiver's
    // workflow. OPTIONS carries no event: n8n answers it as a CORS preflight (204)
    // without running the workflow. The secret's format is checked here; whether
    // the receiver holds the same secret only the first delivery can tell.
    const keys = s.secrets.map((x) => decodeSecret(x).length);
    const secretNote = `WEBHOOK_SECRET is well-formed (${keys.length === 1 ? `${keys[0]}-byte key` : `${keys.length} secrets`})`;
    const notChecked = "Not checked: whether the receiver accepts the signature (no request carrying an event was sent, so nothing was created; the first delivery tells — a 401/403 there means the secrets differ).";
    const plain = new URL(s.url).protocol === "http:" && !isLoopback(s.url) ? " Warning: WEBHOOK_URL is not HTTPS, personal data would travel unencrypted." : "";
    const where = shownUrl(s.url);
    let res: Response;
    try {
      res = await ctx.fetch(s.url, { method: "OPTIONS", redirect: "manual" });
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${where}: ${scrub((err as Error).message, s.url)} (check WEBHOOK_URL). ${secretNote}.` };
    }
    const st = res.status;
    const base = { reachable: true, credentialsAccepted: null, httpStatus: st };
    if ((st >= 200 && st < 300) || st === 405 || st === 501) {
      const how = st >= 200 && st < 300 ? `answered OPTIONS with HTTP ${st}` : `answered, but refuses OPTIONS (HTTP ${st}), so the path could not be confirmed`;
      return { ...base, ok: true, message: `Reachable: ${where} ${how}. ${secretNote}. ${notChecked}${plain}` };
    }
    if (st === 404) return { ...base, ok: false, message: `Reachable, but HTTP 404: nothing listens at this path (check WEBHOOK_URL, and that the n8n/Make/Zapier workflow is active). ${secretNote}.` };
    if (st === 410) return { ...base, ok: false, message: `The receiver answered 410 Gone: it wants no more webhooks, deliveries would pause the destination (check WEBHOOK_URL). ${secretNote}.` };
    if (st >= 300 && st < 400) return { ...base, ok: false, message: `HTTP ${st}: ${where} redirects, and deliveries do not follow redirects (set WEBHOOK_URL to the final URL). ${secretNote}.` };
    return { ...base, ok: false, message: `Reachable, but HTTP ${st} to OPTIONS: could not tell whether deliveries would be accepted. ${secretNote}. ${notChecked}` };
  },
  localEnv: (url) => ({ WEBHOOK_URL: `${url}${LOCAL_WEBHOOK_PATH}`, WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET }),
};

/** 410 pauses the destination (Standard Webhooks); 401/403 say which setting to check. */
function classify(res: Response, text: string, url: string): AttemptOutcome | undefined {
  if (res.status === 410) {
    const reason = `The receiver at ${shownUrl(url)} answered 410 Gone: Standard Webhooks says stop sending to that endpoint. Fix WEBHOOK_URL or the receiver, then resume the destination.`;
    return { kind: "pause", httpStatus: 410, error: `HTTP 410 Gone`, reason, excerpt: excerptOf(text) };
  }
  if (res.status === 401 || res.status === 403) {
    const outcome = classifyStatus(res, text);
    if (outcome.kind === "dead") return { ...outcome, error: `${outcome.error} (the receiver refused the signature: check that WEBHOOK_SECRET is the receiver's secret)` };
  }
  return undefined;
}

/** Deno's fetch errors quote the full URL: keep only its origin. */
function scrub(text: string, url: string): string {
  return text.split(url).join(shownUrl(url)).split(url.replace(/\/$/, "")).join(shownUrl(url));
}

function withoutUrl(outcome: AttemptOutcome, url: string): AttemptOutcome {
  return "error" in outcome ? { ...outcome, error: scrub(outcome.error, url) } : outcome;
}
