/**
 * Zendesk Support (issue 14), authenticated by an API token:
 * `Authorization: Basic base64("<ZENDESK_EMAIL>/token:<ZENDESK_API_TOKEN>")`.
 * - lead.upserted, request.upserted: POST /api/v2/users/create_or_update, the
 *   end user matched by email (Zendesk's upsert: one user per email whatever
 *   the retries); its id remembered.
 * - callback.created: the end user matched by external_id
 *   "lovable-callback-<id>" (create_or_update, remembered), then a ticket for an
 *   agent to call back: POST /api/v2/tickets with `Idempotency-Key: <event id>`
 *   and the same external_id, its id remembered at once. When the user was not
 *   created by this very attempt, GET /api/v2/tickets?external_id=… first finds a
 *   ticket an earlier attempt created but could not remember (the idempotency
 *   key only lives 2 hours). A remembered ticket is only checked (GET), never
 *   created again.
 * Answers (docs/destinations/zendesk.md): 401/403 pause; 429 and 409 retry
 * (Retry-After honoured); 400 IdempotentRequestError, 404, 422 RecordInvalid
 * and other 4xx dead; 5xx and network retry.
 */
import { call, classifyStatus, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationContext, DestinationModule, RateLimit } from "../types.ts";
import { planOf, ticketBody } from "./mapping.ts";

export interface ZendeskSettings {
  /** https://<subdomain>.zendesk.com (no trailing slash). */
  url: string;
  email: string;
  apiToken: string;
  /** ZENDESK_RATE_LIMIT (deliveries per second) when set. */
  rateLimit?: RateLimit;
}

export const LOCAL_ZENDESK_EMAIL = "bridge@sandbox.invalid";
export const LOCAL_ZENDESK_TOKEN = "local-sandbox-zendesk-token";

/**
 * Zendesk's smallest Support/Suite plan (Team) allows 200 requests a minute for
 * the whole account (developer.zendesk.com/api-reference/introduction/rate-limits).
 * A delivery makes at most 3 calls: 1 delivery a second with a burst of 5 is at
 * most (60 + 5) × 3 = 195 calls in any minute.
 */
export const DEFAULT_ZENDESK_RATE: RateLimit = { perSecond: 1, burst: 5 };
const MAX_CALLS = 3;

const VARS = ["ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"] as const;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function baseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("ZENDESK_URL is not a URL: give your account's address, e.g. https://acme.zendesk.com");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    throw new Error("ZENDESK_URL must be an https URL (http only for a local double on loopback)");
  }
  if (url.search || url.hash || url.username || url.password) throw new Error("ZENDESK_URL must not have a query, fragment or credentials");
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/api\/v2$/.test(path)) throw new Error("ZENDESK_URL must be the account's address without /api/v2, e.g. https://acme.zendesk.com");
  return `${url.origin}${path}`;
}

function rateOverride(value: string): RateLimit {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1000) {
    throw new Error(`ZENDESK_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "2" (got "${value}")`);
  }
  return { perSecond: n, burst: Math.max(1, Math.floor(n * 5)) };
}

/** `Basic base64("<email>/token:<token>")`, UTF-8 safe. */
export function basicAuth(email: string, apiToken: string): string {
  const bytes = new TextEncoder().encode(`${email}/token:${apiToken}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

// ---------------------------------------------------------------- answers

/** Zendesk's error text: `{error, description, details:{field:[{description}]}}`, or `{error:{title, message}}`. */
export function zendeskErrorText(text: string): string {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    return "";
  }
  if (!body || typeof body !== "object") return "";
  const parts: string[] = [];
  const err = body.error as unknown;
  if (typeof err === "string") parts.push(err);
  else if (err && typeof err === "object") {
    const e = err as { title?: unknown; message?: unknown };
    parts.push(...[e.title, e.message].filter((v): v is string => typeof v === "string"));
  }
  if (typeof body.description === "string") parts.push(body.description);
  const details = body.details;
  if (details && typeof details === "object") {
    for (const [field, list] of Object.entries(details as Record<string, unknown>)) {
      const said = Array.isArray(list) ? list.map((x) => (x as { description?: unknown })?.description).filter((v) => typeof v === "string") : [];
      parts.push(`${field}: ${said.join("; ") || "invalid"}`);
    }
  }
  return parts.join(" — ");
}

/** A non-2xx answer of `what` ("POST /api/v2/tickets"), classified as Zendesk documents it. */
export function classifyZendesk(res: Response, text: string, what: string): AttemptOutcome {
  const said = zendeskErrorText(text);
  const excerpt = excerptOf(text);
  const status = res.status;
  const error = `${what}: HTTP ${status}${said ? ` — ${said}` : excerpt ? ` — ${excerpt.slice(0, 300)}` : ""}`;
  if (status === 401) {
    return { kind: "pause", httpStatus: status, error, excerpt, reason: "Zendesk refused the credentials (HTTP 401): check ZENDESK_EMAIL and ZENDESK_API_TOKEN (and that token access is on), then resume the destination." };
  }
  if (status === 403) {
    return { kind: "pause", httpStatus: status, error, excerpt, reason: "Zendesk forbids this to the ZENDESK_EMAIL user (HTTP 403): use an agent or admin allowed to manage users and tickets, then resume the destination." };
  }
  if (status === 409) {
    // Zendesk answers 409 when another request updates the same record at the same time: try again.
    const common = classifyStatus(res, text);
    return { kind: "retry", httpStatus: status, error: `${error} (concurrent update)`, retryAfterMs: common.kind === "retry" ? common.retryAfterMs : undefined, excerpt };
  }
  if (status === 400 && /IdempotentRequestError/.test(text)) {
    return { kind: "dead", httpStatus: status, error: `${error} (the Idempotency-Key of this event was already used with another ticket body)`, excerpt };
  }
  if (status === 404) return { kind: "dead", httpStatus: status, error: `${error} (not found: deleted at Zendesk, or ZENDESK_URL is wrong)`, excerpt };
  const common = classifyStatus(res, text, "ZENDESK_URL");
  if (common.kind === "retry") return { ...common, error: `${what}: ${common.error}` };
  if (status >= 300 && status < 400) return common;
  return { kind: "dead", httpStatus: status, error, excerpt };
}

function unexpected(result: { status: number; text: string }, what: string, missing: string): AttemptOutcome {
  const excerpt = excerptOf(result.text);
  return { kind: "retry", httpStatus: result.status, error: `${what}: HTTP ${result.status} without ${missing} — not Zendesk's answer? ${excerpt.slice(0, 200)}`, excerpt };
}

// ---------------------------------------------------------------- calls

function zd<T>(
  ctx: Pick<DestinationContext, "fetch">, s: ZendeskSettings, method: "GET" | "POST", path: string, body?: unknown, headers: Record<string, string> = {},
): Promise<CallResult<T>> {
  const auth = { authorization: basicAuth(s.email, s.apiToken), ...headers };
  const init: RequestInit = body === undefined
    ? { method, headers: { accept: "application/json", ...auth }, redirect: "manual" }
    : { ...jsonInit(body, auth, method), redirect: "manual" };
  // The query (an external id) stays out of the error text.
  const what = `${method} ${path.split("?")[0]}`;
  return call<T>(ctx, `${s.url}${path}`, init, (res, text) => classifyZendesk(res, text, what));
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

type Step<T> = { ok: true; value: T; created: boolean; result: CallResult } | { ok: false; outcome: AttemptOutcome };

async function upsertUser(ctx: DestinationContext, s: ZendeskSettings, user: unknown): Promise<Step<number>> {
  const r = await zd<{ user?: { id?: unknown } }>(ctx, s, "POST", "/api/v2/users/create_or_update", { user });
  if (!r.ok) return { ok: false, outcome: r.outcome };
  const id = r.body?.user?.id;
  if (!isId(id)) return { ok: false, outcome: unexpected(r, "POST /api/v2/users/create_or_update", "user.id") };
  if (ctx.remote.get("user") !== String(id)) await ctx.remote.set("user", String(id));
  // 201 Created: a new user; 200 OK: an existing one was updated.
  return { ok: true, value: id, created: r.status === 201, result: r };
}

export const zendesk: DestinationModule<ZendeskSettings> = {
  name: "zendesk",
  maxCallsPerDelivery: MAX_CALLS,

  settings(env) {
    const values = Object.fromEntries(VARS.map((k) => [k, env[k]?.trim() ?? ""])) as Record<(typeof VARS)[number], string>;
    const rate = env.ZENDESK_RATE_LIMIT?.trim();
    const set = VARS.filter((k) => values[k]);
    if (set.length === 0) {
      if (rate) throw new Error("ZENDESK_RATE_LIMIT is set but ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN are not: set them to enable Zendesk, or unset it");
      return undefined;
    }
    const missing = VARS.filter((k) => !values[k]);
    if (missing.length) throw new Error(`${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set while ${set.join(" and ")} ${set.length > 1 ? "are" : "is"}: Zendesk needs ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN`);
    if (!/^[^\s@/:]+@[^\s@/:]+$/.test(values.ZENDESK_EMAIL)) throw new Error("ZENDESK_EMAIL must be the email of the agent or admin the API token is used as, e.g. bridge@acme.fr");
    if (/[\s\u0000-\u001f\u007f]/.test(values.ZENDESK_API_TOKEN)) throw new Error("ZENDESK_API_TOKEN must not contain spaces or control characters");
    const settings: ZendeskSettings = { url: baseUrl(values.ZENDESK_URL), email: values.ZENDESK_EMAIL, apiToken: values.ZENDESK_API_TOKEN };
    if (rate) settings.rateLimit = rateOverride(rate);
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_ZENDESK_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) return { kind: "dead", httpStatus: null, error: plan.error };

    if (plan.kind === "user") {
      const user = await upsertUser(ctx, s, plan.user);
      return user.ok ? delivered(user.result as { status: number; text: string }) : user.outcome;
    }

    // A call-back: its ticket is created once.
    const known = ctx.remote.get("ticket");
    if (known) {
      const checked = await zd(ctx, s, "GET", `/api/v2/tickets/${encodeURIComponent(known)}`);
      return checked.ok ? delivered(checked) : checked.outcome;
    }

    let requester = Number(ctx.remote.get("user"));
    let created = false;
    if (!isId(requester)) {
      const user = await upsertUser(ctx, s, plan.user);
      if (!user.ok) return user.outcome;
      requester = user.value;
      created = user.created;
    }

    if (!created) {
      const query = new URLSearchParams({ external_id: plan.ref });
      const found = await zd<{ tickets?: { id?: unknown }[] }>(ctx, s, "GET", `/api/v2/tickets?${query}`);
      if (!found.ok) return found.outcome;
      if (!Array.isArray(found.body?.tickets)) return unexpected(found, "GET /api/v2/tickets", "tickets");
      const hit = found.body!.tickets!.map((t) => t?.id).find(isId);
      if (hit !== undefined) {
        await ctx.remote.set("ticket", String(hit));
        return delivered(found);
      }
    }

    const ticket = await zd<{ ticket?: { id?: unknown } }>(ctx, s, "POST", "/api/v2/tickets", { ticket: ticketBody(plan, requester) }, { "idempotency-key": event.id });
    if (!ticket.ok) return ticket.outcome;
    const id = ticket.body?.ticket?.id;
    if (!isId(id)) return unexpected(ticket, "POST /api/v2/tickets", "ticket.id");
    await ctx.remote.set("ticket", String(id));
    return delivered(ticket);
  },

  async test(s, ctx): Promise<DestinationCheck> {
    // GET /api/v2/users/me: who the credentials authenticate as; creates nothing.
    let res: Response;
    let text: string;
    try {
      res = await ctx.fetch(`${s.url}/api/v2/users/me`, { method: "GET", headers: { accept: "application/json", authorization: basicAuth(s.email, s.apiToken) }, redirect: "manual" });
      text = await res.text();
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.url}: ${(err as Error).message} (check ZENDESK_URL).` };
    }
    const st = res.status;
    const said = zendeskErrorText(text);
    if (st === 401 || st === 403) {
      return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `Zendesk refused ZENDESK_EMAIL + ZENDESK_API_TOKEN (HTTP ${st}${said ? `: ${said}` : ""}).` };
    }
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: "Reachable, but HTTP 404 for /api/v2/users/me: check ZENDESK_URL (https://<subdomain>.zendesk.com)." };
    if (st >= 300 && st < 400) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but redirected to ${res.headers.get("location")}: check ZENDESK_URL.` };
    if (st >= 200 && st < 300) {
      let me: { user?: { id?: unknown; role?: unknown } } | null = null;
      try { me = JSON.parse(text); } catch { /* not JSON */ }
      const user = me?.user;
      if (!user || typeof user !== "object") {
        return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `HTTP ${st}, but not Zendesk's answer for /api/v2/users/me: check ZENDESK_URL.` };
      }
      if (!isId(user.id)) {
        // Zendesk answers /users/me for anyone: credentials it does not accept get the anonymous user.
        return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: "Zendesk answered as the anonymous user: ZENDESK_EMAIL + ZENDESK_API_TOKEN were not accepted (wrong pair, revoked token, or token access off)." };
      }
      if (user.role !== "agent" && user.role !== "admin") {
        return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `The credentials authenticate an end user (role ${String(user.role)}): ZENDESK_EMAIL must be an agent or admin.` };
      }
      return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Reachable, credentials accepted (${user.role} ${user.id}); nothing was created.` };
    }
    return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP ${st}${said ? ` (${said})` : ""}: could not tell whether the credentials are valid.` };
  },

  localEnv: (url) => ({ ZENDESK_URL: url, ZENDESK_EMAIL: LOCAL_ZENDESK_EMAIL, ZENDESK_API_TOKEN: LOCAL_ZENDESK_TOKEN }),
};
