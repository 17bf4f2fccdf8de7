/**
 * Shopify (issue 14): customers through the Admin GraphQL API, version pinned
 * (`POST {SHOPIFY_URL}/admin/api/{SHOPIFY_API_VERSION}/graphql.json`, header
 * `X-Shopify-Access-Token`).
 * - The customer is remembered, else found by `customerByIdentifier` (email; the
 *   phone for a call-back — a direct read, not the eventually consistent search
 *   index), else created with `customerCreate`; then `customerUpdate` by id.
 * - "Email has already been taken" on a creation (someone created it meanwhile)
 *   → found again and updated; "Phone has already been taken" (the phone belongs
 *   to another customer) → sent again without the phone, so the record is not lost.
 * - Other `userErrors` are validation: dead with Shopify's field and message.
 * - Throttling: HTTP 200 with `errors[].extensions.code = "THROTTLED"` (or a 429):
 *   retried after (requestedQueryCost − currentlyAvailable) / restoreRate seconds,
 *   read from `extensions.cost.throttleStatus`.
 * Answers: docs/destinations/shopify.md.
 */
import { classifyStatus, excerptOf, jsonInit } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationContext, DestinationModule, RateLimit } from "../types.ts";
import { planOf, type CustomerInput, type Identifier } from "./mapping.ts";

export interface ShopifySettings {
  /** https://<shop>.myshopify.com (no path). */
  shopUrl: string;
  accessToken: string;
  apiVersion: string;
  rateLimit?: RateLimit;
}

export const DEFAULT_SHOPIFY_API_VERSION = "2025-07";
export const LOCAL_SHOPIFY_TOKEN = "shpat_local_sandbox_token";

/** Query costs (Shopify: an object costs 1, a mutation 10). */
export const COST = { find: 1, mutation: 10, shop: 1 } as const;

/**
 * Shopify's GraphQL Admin limit is a leaky bucket per app and store. The lowest
 * figure it has documented for a Standard plan is a 1,000-point bucket restored
 * at 50 points/s (today's page says 100 points/s). A usual delivery costs 11 points
 * (find 1 + one mutation 10), the worst 32 (find, create, find, update, update):
 * 4 deliveries/s (44 points/s) stay under 50; a burst of 20 (≤ 640 points) fits the bucket.
 */
export const DEFAULT_SHOPIFY_RATE: RateLimit = { perSecond: 4, burst: 20 };

function shopUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("SHOPIFY_URL is not a URL: give the shop's admin domain, e.g. https://my-shop.myshopify.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("SHOPIFY_URL must be an https URL, e.g. https://my-shop.myshopify.com");
  if (url.search || url.hash) throw new Error("SHOPIFY_URL must not have a query or fragment");
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/admin(\/|$)/.test(path)) throw new Error("SHOPIFY_URL must be the shop's domain without /admin/…, e.g. https://my-shop.myshopify.com");
  return `${url.origin}${path}`;
}

function rateOverride(value: string): RateLimit {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1000) {
    throw new Error(`SHOPIFY_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "4" (got "${value}")`);
  }
  return { perSecond: n, burst: Math.max(1, Math.floor(n * 5)) };
}

const endpoint = (s: ShopifySettings) => `${s.shopUrl}/admin/api/${s.apiVersion}/graphql.json`;

// ---------------------------------------------------------------- GraphQL

export const FIND_CUSTOMER = "query FindCustomer($identifier: CustomerIdentifierInput!) { customerByIdentifier(identifier: $identifier) { id } }";
export const CREATE_CUSTOMER = "mutation CreateCustomer($input: CustomerInput!) { customerCreate(input: $input) { customer { id } userErrors { field message } } }";
export const UPDATE_CUSTOMER = "mutation UpdateCustomer($input: CustomerInput!) { customerUpdate(input: $input) { customer { id } userErrors { field message } } }";
export const SHOP_NAME = "query ShopName { shop { name } }";

interface ThrottleStatus { maximumAvailable?: number; currentlyAvailable?: number; restoreRate?: number }
interface Cost { requestedQueryCost?: number; actualQueryCost?: number | null; throttleStatus?: ThrottleStatus }
interface GraphqlError { message?: string; extensions?: { code?: string } }
interface GraphqlAnswer<T> { data?: T | null; errors?: GraphqlError[] | string; extensions?: { cost?: Cost } }
export interface UserError { field?: string[] | null; message?: string }

type Gql<T> = { ok: true; status: number; data: T; text: string } | { ok: false; outcome: AttemptOutcome };

/** Milliseconds until the bucket holds `requested` points again. */
export function throttleWaitMs(cost: Cost | undefined): number | undefined {
  const st = cost?.throttleStatus;
  const requested = cost?.requestedQueryCost;
  if (!st || typeof requested !== "number" || typeof st.currentlyAvailable !== "number" || !(typeof st.restoreRate === "number" && st.restoreRate > 0)) return undefined;
  return Math.max(0, Math.ceil(((requested - st.currentlyAvailable) / st.restoreRate) * 1000));
}

function pauseOf(status: number, error: string, excerpt: string, reason: string): AttemptOutcome {
  return { kind: "pause", httpStatus: status, error, excerpt, reason };
}

/** A non-2xx HTTP answer of the GraphQL endpoint, as Shopify documents its status codes. */
export function classifyShopifyHttp(res: Response, text: string, what: string): AttemptOutcome {
  const excerpt = excerptOf(text);
  const error = `${what}: HTTP ${res.status}${excerpt ? ` — ${excerpt.slice(0, 300)}` : ""}`;
  const s = res.status;
  if (s === 401) return pauseOf(s, error, excerpt, "Shopify refused the access token (HTTP 401): check SHOPIFY_ACCESS_TOKEN (an Admin API token of a custom app), then resume the destination.");
  if (s === 403) return pauseOf(s, error, excerpt, "Shopify refused the request (HTTP 403): the app lacks the read_customers/write_customers scopes or protected customer data access; fix it, then resume.");
  if (s === 402) return pauseOf(s, error, excerpt, "The Shopify store is frozen (HTTP 402 Payment Required); resume the destination once the shop is paid for.");
  if (s === 423) return pauseOf(s, error, excerpt, "The Shopify store is locked (HTTP 423); resume the destination once it is unlocked.");
  if (s === 404) return pauseOf(s, error, excerpt, "No Shopify Admin API at this address (HTTP 404): check SHOPIFY_URL and SHOPIFY_API_VERSION, then resume.");
  if (s === 429) {
    let body: GraphqlAnswer<unknown> | null = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    const common = classifyStatus(res, text);
    const retryAfterMs = (common.kind === "retry" ? common.retryAfterMs : undefined) ?? throttleWaitMs(body?.extensions?.cost);
    return { kind: "retry", httpStatus: s, error, retryAfterMs, excerpt };
  }
  const common = classifyStatus(res, text, "SHOPIFY_URL");
  return common.kind === "delivered" ? common : { ...common, error: `${what}: ${common.error}` };
}

function topLevelErrors(answer: GraphqlAnswer<unknown>, status: number, text: string, what: string): AttemptOutcome | undefined {
  const errors = answer.errors;
  if (errors === undefined || (Array.isArray(errors) && errors.length === 0)) return undefined;
  const excerpt = excerptOf(text);
  const list = Array.isArray(errors) ? errors : [{ message: String(errors) }];
  const codes = list.map((e) => e?.extensions?.code).filter((c): c is string => typeof c === "string");
  const messages = list.map((e) => e?.message).filter(Boolean).join("; ");
  const error = `${what}: ${codes.length ? `${codes.join(", ")} — ` : ""}${messages || excerpt.slice(0, 300)}`;
  if (codes.includes("THROTTLED")) {
    const wait = throttleWaitMs(answer.extensions?.cost);
    return { kind: "retry", httpStatus: status, error: `${error} (cost bucket empty)`, retryAfterMs: wait, excerpt };
  }
  if (codes.includes("ACCESS_DENIED")) {
    return pauseOf(status, error, excerpt, "Shopify denied access (ACCESS_DENIED): give the app the read_customers and write_customers scopes, then resume the destination.");
  }
  if (codes.includes("INTERNAL_SERVER_ERROR") || codes.includes("SERVICE_UNAVAILABLE")) return { kind: "retry", httpStatus: status, error, excerpt };
  return { kind: "dead", httpStatus: status, error, excerpt };
}

async function gql<T>(ctx: Pick<DestinationContext, "fetch">, s: ShopifySettings, what: string, query: string, variables?: Record<string, unknown>): Promise<Gql<T>> {
  let res: Response;
  let text: string;
  try {
    res = await ctx.fetch(endpoint(s), { ...jsonInit({ query, variables }, { "X-Shopify-Access-Token": s.accessToken }), redirect: "manual" });
    text = await res.text();
  } catch (err) {
    const name = (err as Error)?.name;
    const msg = (err as Error)?.message ?? String(err);
    return { ok: false, outcome: { kind: "retry", httpStatus: null, error: `${what}: ${name === "TimeoutError" || name === "AbortError" ? "timeout" : "network error"}: ${msg}` } };
  }
  if (res.status < 200 || res.status >= 300) return { ok: false, outcome: classifyShopifyHttp(res, text, what) };
  let answer: GraphqlAnswer<T>;
  try {
    answer = JSON.parse(text);
  } catch {
    return { ok: false, outcome: { kind: "retry", httpStatus: res.status, error: `${what}: HTTP ${res.status} that is not JSON — not Shopify's answer? Check SHOPIFY_URL`, excerpt: excerptOf(text) } };
  }
  const failed = topLevelErrors(answer, res.status, text, what);
  if (failed) return { ok: false, outcome: failed };
  if (!answer || typeof answer !== "object" || !answer.data) {
    return { ok: false, outcome: { kind: "retry", httpStatus: res.status, error: `${what}: HTTP ${res.status} without data — not Shopify's answer?`, excerpt: excerptOf(text) } };
  }
  return { ok: true, status: res.status, data: answer.data, text };
}

// ---------------------------------------------------------------- steps

type Step<T> = { ok: true; value: T; status: number; text: string } | { ok: false; outcome: AttemptOutcome };

const isGid = (v: unknown): v is string => typeof v === "string" && /^gid:\/\/shopify\/Customer\/\d+$/.test(v);

async function find(ctx: DestinationContext, s: ShopifySettings, identifier: Identifier): Promise<Step<string | null>> {
  const r = await gql<{ customerByIdentifier?: { id?: unknown } | null }>(ctx, s, "customerByIdentifier", FIND_CUSTOMER, { identifier });
  if (!r.ok) return r;
  const found = r.data.customerByIdentifier;
  if (found === null || found === undefined) return { ok: true, value: null, status: r.status, text: r.text };
  if (!isGid(found.id)) return { ok: false, outcome: { kind: "retry", httpStatus: r.status, error: "customerByIdentifier: a customer without a Customer gid — not Shopify's answer?", excerpt: excerptOf(r.text) } };
  return { ok: true, value: found.id, status: r.status, text: r.text };
}

type Write = { ok: true; id: string; status: number; text: string } | { ok: false; userErrors: UserError[]; status: number; text: string } | { ok: false; outcome: AttemptOutcome };

async function write(ctx: DestinationContext, s: ShopifySettings, op: "customerCreate" | "customerUpdate", input: CustomerInput): Promise<Write> {
  const r = await gql<Record<string, { customer?: { id?: unknown } | null; userErrors?: UserError[] } | null>>(
    ctx, s, op, op === "customerCreate" ? CREATE_CUSTOMER : UPDATE_CUSTOMER, { input },
  );
  if (!r.ok) return r;
  const payload = r.data[op];
  const userErrors = Array.isArray(payload?.userErrors) ? payload!.userErrors : [];
  if (userErrors.length) return { ok: false, userErrors, status: r.status, text: r.text };
  const id = payload?.customer?.id;
  if (!isGid(id)) return { ok: false, outcome: { kind: "retry", httpStatus: r.status, error: `${op}: no customer id and no userErrors — not Shopify's answer?`, excerpt: excerptOf(r.text) } };
  return { ok: true, id, status: r.status, text: r.text };
}

const describe = (errs: UserError[]) => errs.map((e) => `${(e.field ?? []).join(".") || "input"}: ${e.message ?? "invalid"}`).join("; ");
const taken = (errs: UserError[], field: "email" | "phone") =>
  errs.some((e) => (e.field ?? []).includes(field) && /taken/i.test(e.message ?? ""));
const only = (errs: UserError[], field: "email" | "phone") => errs.every((e) => (e.field ?? []).includes(field));

function dead(op: string, status: number, text: string, errs: UserError[], hint = ""): AttemptOutcome {
  return { kind: "dead", httpStatus: status, error: `${op} userErrors: ${describe(errs)}${hint}`, excerpt: excerptOf(text) };
}

function withoutPhone(input: CustomerInput): CustomerInput {
  const { phone: _phone, ...rest } = input;
  return rest;
}

/** customerUpdate of a known customer; a phone held by another customer is dropped, not fatal. */
async function update(ctx: DestinationContext, s: ShopifySettings, id: string, input: CustomerInput): Promise<AttemptOutcome> {
  let body: CustomerInput = { ...input, id };
  let r = await write(ctx, s, "customerUpdate", body);
  if (!r.ok && "userErrors" in r && taken(r.userErrors, "phone") && only(r.userErrors, "phone")) {
    ctx.log.info("shopify: phone held by another customer; updating without it", { customer: id });
    body = withoutPhone(body);
    r = await write(ctx, s, "customerUpdate", body);
  }
  if (r.ok) return { kind: "delivered", httpStatus: r.status, excerpt: excerptOf(r.text) };
  if ("outcome" in r) return r.outcome;
  const gone = r.userErrors.some((e) => (e.field ?? []).includes("id"));
  return dead("customerUpdate", r.status, r.text, r.userErrors, gone ? ` (customer ${id} deleted at Shopify?)` : "");
}

export const shopify: DestinationModule<ShopifySettings> = {
  name: "shopify",
  // find, create, create without the phone, ("taken") find again, update, update without the phone.
  maxCallsPerDelivery: 6,

  settings(env) {
    const accessToken = env.SHOPIFY_ACCESS_TOKEN?.trim();
    const url = env.SHOPIFY_URL?.trim();
    const version = env.SHOPIFY_API_VERSION?.trim();
    const rate = env.SHOPIFY_RATE_LIMIT?.trim();
    if (!accessToken) {
      if (url || version || rate) throw new Error("SHOPIFY_ACCESS_TOKEN is not set while SHOPIFY_URL, SHOPIFY_API_VERSION or SHOPIFY_RATE_LIMIT is: set the token to enable Shopify, or unset them");
      return undefined;
    }
    if (/[\s\u0000-\u001f\u007f]/.test(accessToken)) throw new Error("SHOPIFY_ACCESS_TOKEN must not contain spaces or control characters");
    if (!url) throw new Error("SHOPIFY_URL is not set: give the shop's admin domain, e.g. https://my-shop.myshopify.com");
    const apiVersion = version || DEFAULT_SHOPIFY_API_VERSION;
    if (!/^(\d{4}-(01|04|07|10)|unstable)$/.test(apiVersion)) {
      throw new Error(`SHOPIFY_API_VERSION must be a Shopify API version like ${DEFAULT_SHOPIFY_API_VERSION} (YYYY-01|04|07|10) (got "${apiVersion}")`);
    }
    const settings: ShopifySettings = { accessToken, shopUrl: shopUrl(url), apiVersion };
    if (rate) settings.rateLimit = rateOverride(rate);
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_SHOPIFY_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) return { kind: "dead", httpStatus: null, error: plan.error };

    const known = ctx.remote.get("customer");
    if (isGid(known)) return update(ctx, s, known, plan.input);

    const found = await find(ctx, s, plan.identifier);
    if (!found.ok) return found.outcome;
    if (found.value) {
      await ctx.remote.set("customer", found.value);
      return update(ctx, s, found.value, plan.input);
    }

    let input: CustomerInput = { ...plan.input, tags: plan.tags };
    const byPhone = "phoneNumber" in plan.identifier;
    for (let tries = 0; ; tries++) {
      const created = await write(ctx, s, "customerCreate", input);
      if (created.ok) {
        await ctx.remote.set("customer", created.id);
        return { kind: "delivered", httpStatus: created.status, excerpt: excerptOf(created.text) };
      }
      if ("outcome" in created) return created.outcome;
      // Created meanwhile (another record of the same person delivered at the same moment, or an
      // earlier attempt): its identifier is taken now — find it and update it.
      if (taken(created.userErrors, "email") || (byPhone && taken(created.userErrors, "phone") && only(created.userErrors, "phone"))) {
        const again = await find(ctx, s, plan.identifier);
        if (!again.ok) return again.outcome;
        if (!again.value) return dead("customerCreate", created.status, created.text, created.userErrors, ` (and no customer found by that ${byPhone ? "phone" : "email"})`);
        await ctx.remote.set("customer", again.value);
        return update(ctx, s, again.value, plan.input);
      }
      if (tries === 0 && !byPhone && taken(created.userErrors, "phone") && only(created.userErrors, "phone")) {
        ctx.log.info("shopify: phone held by another customer; creating without it");
        input = withoutPhone(input);
        continue;
      }
      return dead("customerCreate", created.status, created.text, created.userErrors);
    }
  },

  async test(s, ctx): Promise<DestinationCheck> {
    let res: Response;
    let text: string;
    try {
      res = await ctx.fetch(endpoint(s), { ...jsonInit({ query: SHOP_NAME }, { "X-Shopify-Access-Token": s.accessToken }), redirect: "manual" });
      text = await res.text();
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.shopUrl}: ${(err as Error).message} (check SHOPIFY_URL).` };
    }
    const st = res.status;
    if (st === 401 || st === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `Shopify refused the access token (HTTP ${st}): check SHOPIFY_ACCESS_TOKEN.` };
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP 404 for /admin/api/${s.apiVersion}/graphql.json: check SHOPIFY_URL and SHOPIFY_API_VERSION.` };
    if (st === 402 || st === 423) return { ok: false, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Token accepted, but the shop is ${st === 402 ? "frozen (HTTP 402)" : "locked (HTTP 423)"}.` };
    if (st >= 200 && st < 300) {
      let answer: GraphqlAnswer<{ shop?: { name?: unknown } }> | null = null;
      try { answer = JSON.parse(text); } catch { /* not JSON */ }
      const name = answer?.data?.shop?.name;
      if (typeof name === "string") {
        return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Reachable, access token accepted (shop "${name}", API ${s.apiVersion}); nothing was created.` };
      }
      const errs = Array.isArray(answer?.errors) ? answer!.errors.map((e) => e?.extensions?.code ?? e?.message).join(", ") : "";
      if (errs) return { ok: false, reachable: true, credentialsAccepted: /ACCESS_DENIED/.test(errs) ? false : null, httpStatus: st, message: `Shopify answered with errors: ${errs}.` };
      return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `HTTP ${st}, but not Shopify's answer to { shop { name } }: check SHOPIFY_URL.` };
    }
    return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP ${st}: could not tell whether SHOPIFY_ACCESS_TOKEN is valid.` };
  },

  localEnv: (url) => ({ SHOPIFY_URL: url, SHOPIFY_ACCESS_TOKEN: LOCAL_SHOPIFY_TOKEN }),
};
