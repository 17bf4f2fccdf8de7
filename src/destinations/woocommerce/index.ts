/**
 * WooCommerce REST API v3 (issue 14), authenticated with a REST API key over
 * HTTPS: `Authorization: Basic base64("<consumer key>:<consumer secret>")`.
 * - lead.upserted, request.upserted: the customer is remembered, else found by
 *   email (GET /wp-json/wc/v3/customers?email=…&role=all), then updated
 *   (PUT /customers/<id>) or created (POST /customers, its id remembered at
 *   once). A create refused with `registration-error-email-exists` (a customer
 *   created meanwhile, or a WordPress user the search missed) is followed by
 *   the search again and an update, never a second customer. The record's
 *   details are one customer meta entry per record (`lovable_lead_<id>`,
 *   `lovable_request_<id>`), overwritten by each snapshot.
 * - callback.created: not applicable (no email; WooCommerce customers need one):
 *   delivered without any call, the outcome's excerpt says so.
 * WooCommerce has no idempotency key; the email (unique among WordPress users)
 * is the key. Answers: docs/destinations/woocommerce.md (401/403, rest_no_route
 * and redirects pause; other 4xx dead; 429/5xx retry).
 */
import { call, classifyStatus, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationContext, DestinationModule, RateLimit } from "../types.ts";
import { planOf, type CustomerCreate, type CustomerUpdate } from "./mapping.ts";

export interface WoocommerceSettings {
  /** The store's address, e.g. https://shop.example.fr (no trailing slash). */
  url: string;
  consumerKey: string;
  consumerSecret: string;
  /** WOOCOMMERCE_RATE_LIMIT (deliveries per second) when set. */
  rateLimit?: RateLimit;
}

export const LOCAL_WOOCOMMERCE_KEY = "ck_local0sandbox0woocommerce0key000000000";
export const LOCAL_WOOCOMMERCE_SECRET = "cs_local0sandbox0woocommerce0secret000000";

/**
 * WooCommerce core sets no limit on its REST API: the host does (shared
 * WordPress hosting often throttles or blocks bursts). A delivery makes 2 calls
 * (at most 4): 1 delivery a second with a burst of 3 stays gentle on a small host.
 */
export const DEFAULT_WOOCOMMERCE_RATE: RateLimit = { perSecond: 1, burst: 3 };
const MAX_CALLS = 4;
const API = "/wp-json/wc/v3";

const VARS = ["WOOCOMMERCE_URL", "WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET"] as const;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function storeUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("WOOCOMMERCE_URL is not a URL: give the store's address, e.g. https://shop.example.fr");
  }
  // WooCommerce only reads Basic credentials over HTTPS (plain HTTP needs OAuth 1.0a signatures).
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    throw new Error("WOOCOMMERCE_URL must be an https URL: WooCommerce accepts API keys by Basic auth over HTTPS only (http only for a local double)");
  }
  if (url.search || url.hash || url.username || url.password) throw new Error("WOOCOMMERCE_URL must not have a query, fragment or credentials");
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/wp-json(\/|$)/.test(path)) throw new Error("WOOCOMMERCE_URL must be the store's address without /wp-json…, e.g. https://shop.example.fr");
  return `${url.origin}${path}`;
}

function rateOverride(value: string): RateLimit {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1000) {
    throw new Error(`WOOCOMMERCE_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "2" (got "${value}")`);
  }
  return { perSecond: n, burst: Math.max(1, Math.floor(n * 3)) };
}

function basicAuth(key: string, secret: string): string {
  return `Basic ${btoa(`${key}:${secret}`)}`;
}

// ---------------------------------------------------------------- answers

interface WpError {
  code?: unknown;
  message?: unknown;
  data?: { status?: unknown; params?: unknown };
}

function parseError(text: string): { code: string | null; said: string } {
  let body: WpError;
  try {
    body = JSON.parse(text);
  } catch {
    return { code: null, said: "" };
  }
  if (!body || typeof body !== "object") return { code: null, said: "" };
  const code = typeof body.code === "string" ? body.code : null;
  const message = typeof body.message === "string" ? body.message.replace(/<[^>]*>/g, "").trim() : "";
  const params = body.data?.params;
  const detail = params && typeof params === "object" && !Array.isArray(params)
    ? Object.entries(params as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`).join("; ")
    : "";
  return { code, said: [code, message, detail].filter(Boolean).join(" — ") };
}

/** A non-2xx answer of `what` ("POST /customers"), classified as WooCommerce and WordPress answer. */
export function classifyWoocommerce(res: Response, text: string, what: string): AttemptOutcome {
  const { code, said } = parseError(text);
  const excerpt = excerptOf(text);
  const status = res.status;
  const error = `${what}: HTTP ${status}${said ? ` — ${said}` : excerpt ? ` — ${excerpt.slice(0, 300)}` : ""}`;
  if (status === 403 && code === "woocommerce_rest_cannot_edit") {
    // The key's user is logged in but may not edit this one WordPress user (e.g. an administrator).
    return { kind: "dead", httpStatus: status, error: `${error} (the API key's user may not edit this WordPress user)`, excerpt };
  }
  if (status === 401 || status === 403) {
    const readOnly = /write permission/i.test(said);
    const reason = readOnly
      ? `The WooCommerce API key is read-only (HTTP ${status}): give WOOCOMMERCE_CONSUMER_KEY Read/Write permissions, then resume the destination.`
      : `WooCommerce refused the API key (HTTP ${status}${code ? ` ${code}` : ""}): check WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET and that the key's user may manage customers, then resume the destination.`;
    return { kind: "pause", httpStatus: status, error, excerpt, reason };
  }
  if (status === 404 && code !== "woocommerce_rest_invalid_id") {
    // No REST route (or no WordPress at all): every delivery would fail the same way.
    return {
      kind: "pause", httpStatus: status, error, excerpt,
      reason: `No WooCommerce REST API at WOOCOMMERCE_URL (HTTP 404${code ? ` ${code}` : ""}): check the URL, that WooCommerce is active and that permalinks are not "Plain", then resume the destination.`,
    };
  }
  if (status >= 300 && status < 400) {
    return { kind: "pause", httpStatus: status, error: `${error} (redirect)`, excerpt, reason: `The store redirects the API to ${res.headers.get("location")}: set WOOCOMMERCE_URL to the final address, then resume the destination.` };
  }
  if (status === 404) return { kind: "dead", httpStatus: status, error: `${error} (the remembered customer no longer exists in the shop)`, excerpt };
  const common = classifyStatus(res, text);
  if (common.kind === "retry") return { ...common, error: `${what}: ${common.error}` };
  return { kind: "dead", httpStatus: status, error, excerpt };
}

function unexpected(result: { status: number; text: string }, what: string, missing: string): AttemptOutcome {
  const excerpt = excerptOf(result.text);
  return { kind: "retry", httpStatus: result.status, error: `${what}: HTTP ${result.status} without ${missing} — not WooCommerce's answer? ${excerpt.slice(0, 200)}`, excerpt };
}

// ---------------------------------------------------------------- calls

function wc<T>(ctx: Pick<DestinationContext, "fetch">, s: WoocommerceSettings, method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<CallResult<T>> {
  const auth = { authorization: basicAuth(s.consumerKey, s.consumerSecret) };
  const init: RequestInit = body === undefined
    ? { method, headers: { accept: "application/json", ...auth }, redirect: "manual" }
    : { ...jsonInit(body, auth, method), redirect: "manual" };
  // The query (an email) stays out of the error text.
  const what = `${method} ${path.split("?")[0]}`;
  return call<T>(ctx, `${s.url}${API}${path}`, init, (res, text) => classifyWoocommerce(res, text, what));
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

type Found = { ok: true; id: number | undefined } | { ok: false; outcome: AttemptOutcome };

async function findByEmail(ctx: DestinationContext, s: WoocommerceSettings, email: string): Promise<Found> {
  // role=all: the default lists only the "customer" role, but any WordPress user owns its email.
  const query = new URLSearchParams({ email, role: "all", per_page: "10" });
  const r = await wc<{ id?: unknown; email?: unknown }[]>(ctx, s, "GET", `/customers?${query}`);
  if (!r.ok) return { ok: false, outcome: r.outcome };
  if (!Array.isArray(r.body)) return { ok: false, outcome: unexpected(r, "GET /customers", "a list") };
  const hit = r.body.find((c) => isId(c?.id) && typeof c.email === "string" && c.email.toLowerCase() === email.toLowerCase());
  return { ok: true, id: hit ? (hit.id as number) : undefined };
}

async function update(ctx: DestinationContext, s: WoocommerceSettings, id: number | string, body: CustomerUpdate): Promise<AttemptOutcome> {
  const r = await wc(ctx, s, "PUT", `/customers/${encodeURIComponent(String(id))}`, body);
  return r.ok ? delivered(r) : r.outcome;
}

async function create(ctx: DestinationContext, s: WoocommerceSettings, body: CustomerCreate, then: CustomerUpdate): Promise<AttemptOutcome> {
  const r = await wc<{ id?: unknown }>(ctx, s, "POST", "/customers", body);
  if (r.ok) {
    const id = r.body?.id;
    if (!isId(id)) return unexpected(r, "POST /customers", "id");
    await ctx.remote.set("customer", String(id));
    return delivered(r);
  }
  if (r.status !== 400 || parseError(r.text).code !== "registration-error-email-exists") return r.outcome;
  // The email is taken: that WordPress user is the customer. Find it and update it.
  const found = await findByEmail(ctx, s, body.email);
  if (!found.ok) return found.outcome;
  if (found.id === undefined) {
    return { kind: "dead", httpStatus: 400, error: "POST /customers: HTTP 400 — registration-error-email-exists, yet GET /customers?email=…&role=all finds nobody (a user the API key's user may not list?)", excerpt: excerptOf(r.text) };
  }
  await ctx.remote.set("customer", String(found.id));
  return update(ctx, s, found.id, then);
}

export const woocommerce: DestinationModule<WoocommerceSettings> = {
  name: "woocommerce",
  maxCallsPerDelivery: MAX_CALLS,

  settings(env) {
    const values = Object.fromEntries(VARS.map((k) => [k, env[k]?.trim() ?? ""])) as Record<(typeof VARS)[number], string>;
    const rate = env.WOOCOMMERCE_RATE_LIMIT?.trim();
    const set = VARS.filter((k) => values[k]);
    if (set.length === 0) {
      if (rate) throw new Error("WOOCOMMERCE_RATE_LIMIT is set but WOOCOMMERCE_URL and its API key are not: set them to enable WooCommerce, or unset it");
      return undefined;
    }
    const missing = VARS.filter((k) => !values[k]);
    if (missing.length) throw new Error(`${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set while ${set.join(" and ")} ${set.length > 1 ? "are" : "is"}: WooCommerce needs WOOCOMMERCE_URL, WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET`);
    if (!/^ck_[A-Za-z0-9]+$/.test(values.WOOCOMMERCE_CONSUMER_KEY)) throw new Error("WOOCOMMERCE_CONSUMER_KEY must be a WooCommerce consumer key (ck_…)");
    if (!/^cs_[A-Za-z0-9]+$/.test(values.WOOCOMMERCE_CONSUMER_SECRET)) throw new Error("WOOCOMMERCE_CONSUMER_SECRET must be a WooCommerce consumer secret (cs_…)");
    const settings: WoocommerceSettings = { url: storeUrl(values.WOOCOMMERCE_URL), consumerKey: values.WOOCOMMERCE_CONSUMER_KEY, consumerSecret: values.WOOCOMMERCE_CONSUMER_SECRET };
    if (rate) settings.rateLimit = rateOverride(rate);
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_WOOCOMMERCE_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) {
      if (plan.notApplicable) {
        ctx.log.info("woocommerce: call-back not sent (no email)", { event: event.id });
        // No call was made: 204 stands for "nothing to send" (types.ts requires a status for delivered).
        return { kind: "delivered", httpStatus: 204, excerpt: plan.reason };
      }
      return { kind: "dead", httpStatus: null, error: plan.error };
    }

    const known = ctx.remote.get("customer");
    if (known) return update(ctx, s, known, plan.update);

    const found = await findByEmail(ctx, s, plan.email);
    if (!found.ok) return found.outcome;
    if (found.id !== undefined) {
      await ctx.remote.set("customer", String(found.id));
      return update(ctx, s, found.id, plan.update);
    }
    return create(ctx, s, plan.create, plan.update);
  },

  async test(s, ctx): Promise<DestinationCheck> {
    const auth = { accept: "application/json", authorization: basicAuth(s.consumerKey, s.consumerSecret) };
    const base = `${s.url}${API}/customers`;
    let res: Response;
    let text: string;
    // 1. Read: GET /customers?per_page=1.
    try {
      res = await ctx.fetch(`${base}?per_page=1`, { method: "GET", headers: auth, redirect: "manual" });
      text = await res.text();
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.url}: ${(err as Error).message} (check WOOCOMMERCE_URL).` };
    }
    let st = res.status;
    let said = parseError(text).said;
    if (st === 401 || st === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `WooCommerce refused the API key (HTTP ${st}${said ? `: ${said}` : ""}): check WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET.` };
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but no WooCommerce REST API there (HTTP 404${said ? `: ${said}` : ""}): check WOOCOMMERCE_URL, that WooCommerce is active and permalinks are not "Plain".` };
    if (st >= 300 && st < 400) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but redirected to ${res.headers.get("location")}: set WOOCOMMERCE_URL to the final address.` };
    let list: unknown = null;
    try { list = JSON.parse(text); } catch { /* not JSON */ }
    if (st < 200 || st >= 300) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP ${st}${said ? ` (${said})` : ""}: could not tell whether the API key is valid.` };
    if (!Array.isArray(list)) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `HTTP ${st}, but not WooCommerce's answer for /customers: check WOOCOMMERCE_URL.` };

    // 2. Write permission, creating nothing: a POST without the required email is refused by
    //    validation (400 rest_missing_callback_param) after the key's write permission is checked (401).
    try {
      res = await ctx.fetch(base, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}", redirect: "manual" });
      text = await res.text();
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: true, httpStatus: null, message: `Read accepted, then the store stopped answering: ${(err as Error).message}.` };
    }
    st = res.status;
    said = parseError(text).said;
    if (st === 401 || st === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `The API key can read but not write (HTTP ${st}${said ? `: ${said}` : ""}): give it Read/Write permissions.` };
    if (st === 400 && parseError(text).code === "rest_missing_callback_param") {
      return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: 200, message: "Reachable, API key accepted with read and write permissions; nothing was created." };
    }
    return { ok: false, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Read accepted, but the write check answered HTTP ${st}${said ? ` (${said})` : ""}: could not tell whether the key may write.` };
  },

  localEnv: (url) => ({ WOOCOMMERCE_URL: url, WOOCOMMERCE_CONSUMER_KEY: LOCAL_WOOCOMMERCE_KEY, WOOCOMMERCE_CONSUMER_SECRET: LOCAL_WOOCOMMERCE_SECRET }),
};
