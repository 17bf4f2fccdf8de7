/**
 * HubSpot (CONTRACT §5), CRM v3 objects API with a private app token
 * (`Authorization: Bearer`). Per event (docs/destinations/hubspot.md):
 * - lead.upserted: POST /crm/v3/objects/contacts/batch/upsert, idProperty "email".
 * - callback.created (no email): the contact is created once and its id
 *   remembered; before creating, POST /crm/v3/objects/contacts/search by
 *   lovable_lead_id finds one a crash left unremembered.
 * - request.upserted: the contact upserted by email, then the deal: PATCH by
 *   its remembered id, else found by lovable_request_id, else created with its
 *   deal→contact association (type 3) and its id remembered at once.
 * HubSpot has no idempotency key: the email upsert, the remembered ids and the
 * search are what make a retry create nothing twice.
 * Answers: 429 policyName DAILY → throttled until the next midnight in the
 * account's time zone; other 429s → retry after the 10-second window; 401/403
 * and a missing custom property → the destination pauses (every delivery
 * would fail the same way); other 4xx → dead; 5xx/network → retry.
 */
import { PAYMENT_STATUSES, type PaymentStatus } from "../../validation/enums.ts";
import { call, checkWithRead, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationContext, DestinationModule, RateLimit } from "../types.ts";
import {
  CALLBACK_KEY, CUSTOM_PROPERTIES, DEAL_KEY, DEAL_TO_CONTACT, DEFAULT_DEAL_STAGES, DEFAULT_PIPELINE,
  dealProperties, leadContactProperties, requestContactProperties, type Properties,
} from "./mapping.ts";
import { assertTimeZone, nextMidnight } from "./next-midnight.ts";

export interface HubspotSettings {
  apiUrl: string;
  token: string;
  pipeline: string;
  stages: Readonly<Record<PaymentStatus, string>>;
  /** The HubSpot account's time zone: its daily limit resets at midnight there. */
  timeZone: string;
  /** HUBSPOT_RATE_LIMIT (deliveries per second), when set. */
  rateLimit?: number;
}

export const DEFAULT_HUBSPOT_API_URL = "https://api.hubapi.com";
export const DEFAULT_HUBSPOT_TIMEZONE = "Europe/Paris";
export const LOCAL_HUBSPOT_TOKEN = "pat-local-sandbox-token";
/** Private apps, Free/Starter: 100 requests per rolling 10 seconds (the lowest tier; API usage guidelines). */
export const HUBSPOT_REQUESTS_PER_10S = 100;
/** Waited after a TEN_SECONDLY_ROLLING 429 when the answer gives no interval. */
export const TEN_SECONDS_MS = 10_000;
/** Resume a little after midnight: clocks differ. */
export const DAILY_RESET_MARGIN_MS = 60_000;
/** Worst case: contact upsert, PATCH of a remembered id that is gone (404), search, then PATCH or create. */
const MAX_CALLS = 4;

function parseStages(raw: string | undefined): Record<PaymentStatus, string> {
  const stages = { ...DEFAULT_DEAL_STAGES };
  if (!raw?.trim()) return stages;
  for (const pair of raw.split(",")) {
    const [key, value, extra] = pair.split(/[:=]/).map((s) => s.trim());
    if (!PAYMENT_STATUSES.includes(key as PaymentStatus) || !value || extra !== undefined || /\s/.test(value)) {
      throw new Error(`HUBSPOT_DEAL_STAGES: "${pair.trim()}" is not <payment status>:<stage id> (payment statuses: ${PAYMENT_STATUSES.join(", ")})`);
    }
    stages[key as PaymentStatus] = value;
  }
  return stages;
}

function parseUrl(raw: string | undefined): string {
  const value = raw?.trim() || DEFAULT_HUBSPOT_API_URL;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`HUBSPOT_API_URL: "${value}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("HUBSPOT_API_URL must be an http(s) URL");
  return value.replace(/\/+$/, "");
}

export function hubspotSettings(env: Record<string, string | undefined>): HubspotSettings | undefined {
  const token = env.HUBSPOT_ACCESS_TOKEN?.trim();
  if (!token) return undefined;
  if (/\s/.test(token)) throw new Error("HUBSPOT_ACCESS_TOKEN must be one private app access token (no spaces)");
  const timeZone = env.HUBSPOT_TIMEZONE?.trim() || DEFAULT_HUBSPOT_TIMEZONE;
  try {
    assertTimeZone(timeZone);
  } catch {
    throw new Error(`HUBSPOT_TIMEZONE: "${timeZone}" is not an IANA time zone (e.g. Europe/Paris)`);
  }
  const pipeline = env.HUBSPOT_PIPELINE?.trim() || DEFAULT_PIPELINE;
  if (/\s/.test(pipeline)) throw new Error("HUBSPOT_PIPELINE must be a pipeline's internal id");
  let rateLimit: number | undefined;
  if (env.HUBSPOT_RATE_LIMIT?.trim()) {
    rateLimit = Number(env.HUBSPOT_RATE_LIMIT);
    if (!Number.isFinite(rateLimit) || rateLimit <= 0) throw new Error("HUBSPOT_RATE_LIMIT must be a positive number of deliveries per second");
  }
  return { apiUrl: parseUrl(env.HUBSPOT_API_URL), token, pipeline, stages: parseStages(env.HUBSPOT_DEAL_STAGES), timeZone, rateLimit };
}

export function hubspotRateLimit(s: Pick<HubspotSettings, "rateLimit">): RateLimit {
  if (s.rateLimit) return { perSecond: s.rateLimit, burst: Math.max(1, Math.floor(s.rateLimit)) };
  // A token bucket lets `burst + 10 × perSecond` deliveries into any 10 s window: at 4 calls
  // each, 2/s with a burst of 5 stays within the documented 100 requests per 10 s.
  return { perSecond: 2, burst: 5 };
}

const jsonOf = (text: string): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
};

function retryAfterMs(res: Response): number | undefined {
  const ra = res.headers.get("retry-after")?.trim();
  if (ra && /^\d+$/.test(ra)) return Number(ra) * 1000;
  const interval = Number(res.headers.get("x-hubspot-ratelimit-interval-milliseconds"));
  return Number.isFinite(interval) && interval > 0 ? interval : undefined;
}

/** HubSpot's own meaning of an answer, where it differs from the common classification. */
export function classifyHubspot(res: Response, text: string, s: Pick<HubspotSettings, "timeZone">, now: number = Date.now()): AttemptOutcome | undefined {
  const body = jsonOf(text);
  const excerpt = excerptOf(text);
  const message = typeof body?.message === "string" ? body.message : excerpt.slice(0, 300);
  if (res.status === 429) {
    const policy = typeof body?.policyName === "string" ? body.policyName : undefined;
    if (policy === "DAILY") {
      const resumeAt = nextMidnight(s.timeZone, now) + DAILY_RESET_MARGIN_MS;
      return { kind: "throttled", httpStatus: 429, error: `HTTP 429 DAILY: the account's daily API limit is spent; it resets at midnight ${s.timeZone} (HUBSPOT_TIMEZONE)`, resumeAt, excerpt };
    }
    return { kind: "retry", httpStatus: 429, error: `HTTP 429 ${policy ?? "rate limit"}: ${message}`, retryAfterMs: retryAfterMs(res) ?? TEN_SECONDS_MS, excerpt };
  }
  if (res.status === 401) {
    return { kind: "pause", httpStatus: 401, error: `HTTP 401: ${message}`, reason: "HubSpot refused the access token (401): check HUBSPOT_ACCESS_TOKEN (a private app token), then resume hubspot.", excerpt };
  }
  if (res.status === 403) {
    return { kind: "pause", httpStatus: 403, error: `HTTP 403: ${message}`, reason: "HubSpot denied the private app (403): it needs the scopes crm.objects.contacts.read/write and crm.objects.deals.read/write; then resume hubspot.", excerpt };
  }
  if (res.status === 400 && text.includes("PROPERTY_DOESNT_EXIST")) {
    const name = /Property \\?"([^"\\]+)\\?" does not exist/.exec(message)?.[1];
    return {
      kind: "pause", httpStatus: 400, error: `HTTP 400: ${message}`, excerpt,
      reason: `The HubSpot account lacks the property ${name ?? "this destination writes"}: create the custom properties of docs/destinations/hubspot.md, then resume hubspot.`,
    };
  }
  return undefined;
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<CallResult<T>>;

function client(s: HubspotSettings, ctx: DestinationContext): Api {
  return (method, path, body) => {
    const headers = { authorization: `Bearer ${s.token}` };
    const init: RequestInit = body === undefined
      ? { method, headers: { ...headers, accept: "application/json" } }
      : jsonInit(body, headers, method);
    return call(ctx, `${s.apiUrl}${path}`, { ...init, redirect: "manual" }, (res, text) => classifyHubspot(res, text, s));
  };
}

const dead = (result: { status: number; text: string }, error: string): AttemptOutcome =>
  ({ kind: "dead", httpStatus: result.status, error, excerpt: excerptOf(result.text) });

interface Upserted { results?: Array<{ id?: string }> }
interface Found { results?: Array<{ id?: string }> }
interface Created { id?: string }

/** One contact by email: created or updated in place. */
async function upsertContact(api: Api, properties: Properties): Promise<{ id: string; result: { status: number; text: string } } | { outcome: AttemptOutcome }> {
  const result = await api<Upserted>("POST", "/crm/v3/objects/contacts/batch/upsert", {
    inputs: [{ id: properties.email, idProperty: "email", properties }],
  });
  if (!result.ok) return { outcome: result.outcome };
  const id = result.body?.results?.[0]?.id;
  if (typeof id !== "string" || !id) return { outcome: dead(result, "HubSpot's batch upsert answered without the contact's id") };
  return { id, result };
}

/**
 * A record this destination creates once: PATCH by its remembered id; else the
 * one a crash left unremembered, found by `key`; else created, and its id
 * remembered before anything else happens.
 */
async function ensureRecord(api: Api, ctx: DestinationContext, o: {
  kind: "contact" | "deal"; object: "contacts" | "deals"; key: string; properties: Properties; associations?: unknown[];
}): Promise<AttemptOutcome> {
  const patch = (id: string) => api("PATCH", `/crm/v3/objects/${o.object}/${encodeURIComponent(id)}`, { properties: o.properties });
  const known = ctx.remote.get(o.kind);
  if (known) {
    const r = await patch(known);
    if (r.ok) return delivered(r);
    if (r.status !== 404) return r.outcome;
    ctx.log.warn("hubspot: the remembered record is gone (deleted or merged); finding or creating it again", { kind: o.kind, id: known });
  }
  const keyValue = o.properties[o.key];
  const found = await api<Found>("POST", `/crm/v3/objects/${o.object}/search`, {
    filterGroups: [{ filters: [{ propertyName: o.key, operator: "EQ", value: keyValue }] }],
    properties: [o.key],
    limit: 1,
  });
  if (!found.ok) return found.outcome;
  const hit = found.body?.results?.[0]?.id;
  if (typeof hit === "string" && hit) {
    await ctx.remote.set(o.kind, hit);
    const r = await patch(hit);
    return r.ok ? delivered(r) : r.outcome;
  }
  const created = await api<Created>("POST", `/crm/v3/objects/${o.object}`, { properties: o.properties, associations: o.associations ?? [] });
  if (!created.ok) {
    // "Contact already exists. Existing ID: 123" (409): that one is ours to update.
    const existing = created.status === 409 ? /Existing ID: (\d+)/.exec(created.text)?.[1] : undefined;
    if (!existing) return created.outcome;
    await ctx.remote.set(o.kind, existing);
    const r = await patch(existing);
    return r.ok ? delivered(r) : r.outcome;
  }
  const id = created.body?.id;
  if (typeof id !== "string" || !id) return dead(created, `HubSpot created the ${o.kind} but answered without its id`);
  await ctx.remote.set(o.kind, id);
  return delivered(created);
}

export const hubspot: DestinationModule<HubspotSettings> = {
  name: "hubspot",
  maxCallsPerDelivery: MAX_CALLS,
  settings: hubspotSettings,
  rateLimit: hubspotRateLimit,
  async deliver(event, s, ctx) {
    const api = client(s, ctx);
    const d = event.data;
    if (event.type === "request.upserted") {
      if (typeof d.email !== "string" || !d.email || typeof d.lovable_request_id !== "string") {
        return { kind: "dead", httpStatus: null, error: "request.upserted without email or lovable_request_id: nothing to send to HubSpot" };
      }
      const contact = await upsertContact(api, requestContactProperties(d));
      if ("outcome" in contact) return contact.outcome;
      return ensureRecord(api, ctx, {
        kind: "deal", object: "deals", key: DEAL_KEY,
        properties: dealProperties(d, s),
        associations: [{ to: { id: contact.id }, types: [DEAL_TO_CONTACT] }],
      });
    }
    const properties = leadContactProperties(d);
    if (properties.email) {
      const contact = await upsertContact(api, properties);
      return "outcome" in contact ? contact.outcome : delivered(contact.result);
    }
    if (!properties[CALLBACK_KEY]) return { kind: "dead", httpStatus: null, error: "call-back without email nor lovable_lead_id: it cannot be found again, not sent" };
    return ensureRecord(api, ctx, { kind: "contact", object: "contacts", key: CALLBACK_KEY, properties });
  },
  async test(s, ctx): Promise<DestinationCheck> {
    const headers = { authorization: `Bearer ${s.token}`, accept: "application/json" };
    const check = await checkWithRead(ctx, `${s.apiUrl}/crm/v3/objects/contacts?limit=1`, { headers, redirect: "manual" }, "access token");
    if (!check.ok) {
      const hint = check.credentialsAccepted === false ? " Check HUBSPOT_ACCESS_TOKEN (and the app's crm.objects.contacts.read scope)." : " Check HUBSPOT_API_URL.";
      return { ...check, message: check.message + hint };
    }
    // The custom properties of the setup (reads only; needs the crm.schemas.*.read scopes).
    const missing: string[] = [];
    for (const object of ["contacts", "deals"] as const) {
      const r = await call<{ results?: Array<{ name?: string }> }>(ctx, `${s.apiUrl}/crm/v3/properties/${object}`, { method: "GET", headers, redirect: "manual" });
      if (!r.ok) return { ...check, message: `${check.message} Could not list the ${object} properties (HTTP ${r.status ?? "none"}) to check the custom ones.` };
      const names = new Set((r.body?.results ?? []).map((p) => p.name));
      for (const name of CUSTOM_PROPERTIES[object]) if (!names.has(name)) missing.push(`${object}.${name}`);
    }
    if (missing.length) {
      return { ...check, ok: false, message: `Token accepted, but the account lacks the custom properties ${missing.join(", ")} (see docs/destinations/hubspot.md); nothing was created.` };
    }
    return { ...check, message: `${check.message} The custom properties exist.` };
  },
  localEnv: (url) => ({ HUBSPOT_API_URL: url, HUBSPOT_ACCESS_TOKEN: LOCAL_HUBSPOT_TOKEN }),
};
