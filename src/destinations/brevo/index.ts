/**
 * Brevo (CONTRACT §5): contacts through the Contacts API, requests as Sales
 * CRM deals linked to the contact. Mapping: ./mapping.ts; calls, dedup and
 * classification: docs/destinations/brevo.md.
 *
 * - lead.upserted: POST /contacts {email, attributes, updateEnabled: true}
 *   (201 created, 204 updated: Brevo's own upsert by email).
 * - callback.created (no email): the contact remembered for this call-back,
 *   else the one Brevo holds with that SMS number (GET ?identifierType=phone_id),
 *   else a phone-only contact created (POST /contacts, 201 {id}), its id
 *   remembered at once; then updated by id (PUT ?identifierType=contact_id).
 * - request.upserted: the contact upserted by email (its id from the 201, the
 *   remembered one, or GET by email), then the deal: PATCH by its remembered
 *   id, else (only when an earlier attempt may have created it) found among
 *   the contact's deals by the request id in its name, else created with the
 *   contact linked, its id remembered at once.
 * Brevo has no idempotency key; ids remembered right after each creation and
 * the look-ups above are what prevent duplicates.
 */
import type { PaymentStatus } from "../../validation/enums.ts";
import { PAYMENT_STATUSES } from "../../validation/enums.ts";
import { call, checkWithRead, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import type { AttemptOutcome, DeliveryEvent, DestinationContext, DestinationModule } from "../types.ts";
import {
  contactBody, dealAttributes, dealMarker, dealName, leadAttributes, requestContactAttributes, withoutSms,
  type Attributes, type MappingOptions,
} from "./mapping.ts";

export const DEFAULT_BREVO_API_URL = "https://api.brevo.com/v3";
/** The key the local double accepts (not a secret). */
export const LOCAL_BREVO_KEY = "local-brevo-sandbox-key";

export interface BrevoSettings extends MappingOptions {
  apiUrl: string;
  apiKey: string;
  /** BREVO_RATE_LIMIT (deliveries per second), when set. */
  ratePerSecond?: number;
}

/**
 * Documented General-tier limit of /v3/contacts/*: 10 requests per second
 * (36,000 per hour). A delivery usually makes at most 2 contact calls, so 5
 * deliveries/s fit; 4 keeps a margin for other integrations sharing the key.
 * The CRM endpoints' 100 requests per hour are handled by `throttled` below.
 */
export const DEFAULT_RATE_PER_SECOND = 4;
/** A 429 whose window resets later than this is a spent hourly quota: the whole destination waits. */
export const THROTTLE_AFTER_SECONDS = 60;

/** Remote-id kinds remembered per record. */
export const REMOTE = { contact: "contact", deal: "deal", dealContact: "deal_contact", dealCreate: "deal_create" } as const;

function parseBoolean(name: string, value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  if (!v) return false;
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new Error(`${name} must be true or false`);
}

function parseStages(value: string | undefined): Partial<Record<PaymentStatus, string>> {
  const stages: Partial<Record<PaymentStatus, string>> = {};
  if (!value?.trim()) return stages;
  for (const pair of value.split(",")) {
    const [status, id, ...rest] = pair.split("=").map((p) => p.trim());
    if (!status || !id || rest.length) throw new Error(`BREVO_DEAL_STAGES must be a list like "pending=<stage id>,paid=<stage id>" (got "${pair.trim()}")`);
    if (!(PAYMENT_STATUSES as readonly string[]).includes(status)) throw new Error(`BREVO_DEAL_STAGES: "${status}" is not a payment status (${PAYMENT_STATUSES.join(", ")})`);
    stages[status as PaymentStatus] = id;
  }
  return stages;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

function brevoError(text: string): { code?: string; message?: string } {
  try {
    const body = JSON.parse(text);
    return body && typeof body === "object" ? body : {};
  } catch {
    return {};
  }
}

/** Brevo specifics on top of the common classification. */
export function classifyBrevo(res: Response, text: string, now = Date.now()): AttemptOutcome | undefined {
  const excerpt = excerptOf(text);
  const { code, message } = brevoError(text);
  const said = `${code ?? "error"}${message ? `: ${message}` : ""}`;
  if (res.status === 429) {
    const reset = Number(res.headers.get("x-sib-ratelimit-reset"));
    if (Number.isFinite(reset) && reset > 0) {
      const ms = Math.ceil(reset * 1000);
      const limit = res.headers.get("x-sib-ratelimit-limit");
      const error = `HTTP 429 (Brevo rate limit${limit ? ` of ${limit}` : ""} reached; resets in ${reset}s)`;
      if (reset > THROTTLE_AFTER_SECONDS) return { kind: "throttled", httpStatus: 429, error, resumeAt: now + ms, excerpt };
      return { kind: "retry", httpStatus: 429, error, retryAfterMs: ms, excerpt };
    }
    return undefined; // the common rule: retry, honouring Retry-After if any
  }
  if (res.status === 401) {
    return { kind: "dead", httpStatus: 401, error: `HTTP 401 ${said}: Brevo refused the API key (check BREVO_API_KEY)`, excerpt };
  }
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 425) {
    return { kind: "dead", httpStatus: res.status, error: `HTTP ${res.status} ${said}`, excerpt };
  }
  return undefined;
}

/** A contact write Brevo refused because of the SMS number (taken by another contact, or not a valid one). */
function smsRefused(r: CallResult): boolean {
  if (r.ok || r.status !== 400) return false;
  const { code, message } = brevoError(r.text);
  return (code === "duplicate_parameter" || code === "invalid_parameter") && /sms|phone/i.test(message ?? "");
}

type Ctx = DestinationContext;

function client(s: BrevoSettings, ctx: Ctx) {
  const headers = { "api-key": s.apiKey };
  const send = <T = unknown>(method: string, path: string, body?: unknown) =>
    call<T>(ctx, `${s.apiUrl}${path}`, body === undefined
      ? { method, headers: { accept: "application/json", ...headers }, redirect: "manual" }
      : { ...jsonInit(body, headers, method), redirect: "manual" }, classifyBrevo);
  return { send };
}

type Api = ReturnType<typeof client>;
type Step<T> = { ok: true; value: T; last: CallResult & { ok: true } } | { ok: false; outcome: AttemptOutcome };

/** POST /contacts with updateEnabled; once more without SMS when Brevo refuses the number. */
async function upsertByEmail(api: Api, email: string, attributes: Attributes, ctx: Ctx): Promise<Step<number | undefined>> {
  let r = await api.send<{ id?: number }>("POST", "/contacts", contactBody(email, attributes));
  if (!r.ok && "SMS" in attributes && smsRefused(r)) {
    ctx.log.warn("brevo refused the SMS number; contact sent without it", { status: r.status, excerpt: excerptOf(r.text).slice(0, 300) });
    r = await api.send<{ id?: number }>("POST", "/contacts", contactBody(email, withoutSms(attributes)));
  }
  if (!r.ok) return { ok: false, outcome: r.outcome };
  return { ok: true, value: r.status === 201 && typeof r.body?.id === "number" ? r.body.id : undefined, last: r };
}

async function deliverLead(event: DeliveryEvent, s: BrevoSettings, ctx: Ctx): Promise<AttemptOutcome> {
  const email = str(event.data.email);
  if (!email) return { kind: "dead", httpStatus: null, error: "lead.upserted without email: Brevo needs it to upsert the contact" };
  const r = await upsertByEmail(client(s, ctx), email, leadAttributes(event.data, s), ctx);
  return r.ok ? delivered(r.last) : r.outcome;
}

async function deliverCallback(event: DeliveryEvent, s: BrevoSettings, ctx: Ctx): Promise<AttemptOutcome> {
  const api = client(s, ctx);
  const attributes = leadAttributes(event.data, s);
  const phone = str(event.data.phone);
  if (!phone) return { kind: "dead", httpStatus: null, error: "callback.created without phone: Brevo cannot identify the contact" };
  let id = ctx.remote.get(REMOTE.contact);
  if (!id) {
    const found = await api.send<{ id?: number }>("GET", `/contacts/${encodeURIComponent(phone)}?identifierType=phone_id`);
    if (found.ok && typeof found.body?.id === "number") {
      id = String(found.body.id);
      await ctx.remote.set(REMOTE.contact, id);
    } else if (!found.ok && found.status !== 404) {
      return found.outcome;
    }
  }
  if (id) {
    const put = await api.send("PUT", `/contacts/${encodeURIComponent(id)}?identifierType=contact_id`, { attributes });
    if (put.ok) return delivered(put);
    if (put.status !== 404) return put.outcome;
    // Deleted at Brevo since: create it again below.
  }
  const created = await api.send<{ id?: number }>("POST", "/contacts", contactBody(undefined, attributes));
  if (!created.ok) {
    const { code } = brevoError(created.text);
    if (created.status === 400 && code === "duplicate_parameter") {
      // Someone created a contact with that number after our look-up: find it next time.
      return { kind: "retry", httpStatus: 400, error: `HTTP 400 duplicate_parameter: the number now belongs to a contact; it will be looked up again`, excerpt: excerptOf(created.text) };
    }
    return created.outcome;
  }
  if (typeof created.body?.id !== "number") return { kind: "retry", httpStatus: created.status, error: `Brevo created the contact without returning its id (HTTP ${created.status})`, excerpt: excerptOf(created.text) };
  await ctx.remote.set(REMOTE.contact, String(created.body.id));
  return delivered(created);
}

/** The request's contact id: from the upsert's 201, the remembered one, or GET by email. */
async function requestContact(api: Api, email: string, event: DeliveryEvent, s: BrevoSettings, ctx: Ctx): Promise<Step<number>> {
  const up = await upsertByEmail(api, email, requestContactAttributes(event.data, s), ctx);
  if (!up.ok) return up;
  const remembered = ctx.remote.get(REMOTE.contact);
  if (up.value !== undefined) {
    if (remembered !== String(up.value)) await ctx.remote.set(REMOTE.contact, String(up.value));
    return { ok: true, value: up.value, last: up.last };
  }
  if (remembered && /^\d+$/.test(remembered)) return { ok: true, value: Number(remembered), last: up.last };
  const got = await api.send<{ id?: number }>("GET", `/contacts/${encodeURIComponent(email)}?identifierType=email_id`);
  if (!got.ok) return { ok: false, outcome: got.outcome };
  if (typeof got.body?.id !== "number") return { ok: false, outcome: { kind: "retry", httpStatus: got.status, error: "Brevo returned the contact without its id", excerpt: excerptOf(got.text) } };
  await ctx.remote.set(REMOTE.contact, String(got.body.id));
  return { ok: true, value: got.body.id, last: got };
}

interface BrevoDealItem {
  id?: string;
  attributes?: { deal_name?: unknown };
  linkedContactsIds?: number[];
}

/** A deal an earlier attempt created but could not remember: among the contact's deals, by the request id in its name. */
async function findDeal(api: Api, contactId: number, requestId: string): Promise<Step<string | undefined>> {
  const limit = 50;
  let last: (CallResult & { ok: true }) | undefined;
  for (let page = 0; page < 2; page++) {
    const q = new URLSearchParams({ "filters[linkedContactsIds]": String(contactId), limit: String(limit), offset: String(page * limit) });
    const r = await api.send<{ items?: BrevoDealItem[] }>("GET", `/crm/deals?${q}`);
    if (!r.ok) return { ok: false, outcome: r.outcome };
    last = r;
    const items = r.body?.items ?? [];
    const hit = items.find((d) => typeof d.id === "string" && String(d.attributes?.deal_name ?? "").includes(dealMarker(requestId)));
    if (hit) return { ok: true, value: hit.id, last: r };
    if (items.length < limit) break;
  }
  return { ok: true, value: undefined, last: last! };
}

async function deliverRequest(event: DeliveryEvent, s: BrevoSettings, ctx: Ctx): Promise<AttemptOutcome> {
  const api = client(s, ctx);
  const email = str(event.data.email);
  if (!email) return { kind: "dead", httpStatus: null, error: "request.upserted without email: Brevo needs it to upsert the contact" };
  const contact = await requestContact(api, email, event, s, ctx);
  if (!contact.ok) return contact.outcome;
  const contactId = contact.value;
  const requestId = String(event.data.lovable_request_id ?? event.recordId);
  const name = dealName({ ...event.data, lovable_request_id: requestId });
  const attributes = dealAttributes(event.data, s);

  let dealId = ctx.remote.get(REMOTE.deal);
  if (!dealId && ctx.remote.get(REMOTE.dealCreate)) {
    const found = await findDeal(api, contactId, requestId);
    if (!found.ok) return found.outcome;
    if (found.value) {
      dealId = found.value;
      await ctx.remote.set(REMOTE.deal, dealId);
      await ctx.remote.set(REMOTE.dealContact, String(contactId)); // found through that link
    }
  }
  if (dealId) {
    const patched = await api.send("PATCH", `/crm/deals/${encodeURIComponent(dealId)}`, { name, attributes });
    if (patched.ok) {
      if (ctx.remote.get(REMOTE.dealContact) === String(contactId)) return delivered(patched);
      const linked = await api.send("PATCH", `/crm/deals/link-unlink/${encodeURIComponent(dealId)}`, { linkContactIds: [contactId] });
      if (!linked.ok) return linked.outcome;
      await ctx.remote.set(REMOTE.dealContact, String(contactId));
      return delivered(linked);
    }
    if (patched.status !== 404) return patched.outcome;
    // Deleted at Brevo since: a new deal replaces it.
  }
  await ctx.remote.set(REMOTE.dealCreate, event.id);
  const created = await api.send<{ id?: string }>("POST", "/crm/deals", { name, attributes, linkedContactsIds: [contactId] });
  if (!created.ok) return created.outcome;
  if (typeof created.body?.id !== "string") return { kind: "retry", httpStatus: created.status, error: `Brevo created the deal without returning its id (HTTP ${created.status})`, excerpt: excerptOf(created.text) };
  await ctx.remote.set(REMOTE.deal, created.body.id);
  await ctx.remote.set(REMOTE.dealContact, String(contactId));
  return delivered(created);
}

export const brevo: DestinationModule<BrevoSettings> = {
  name: "brevo",
  // request: contact POST (+ once more without SMS) + GET by email, then PATCH 404 + POST, or look-up (2 pages) + PATCH + link.
  maxCallsPerDelivery: 7,
  settings(env) {
    const apiKey = env.BREVO_API_KEY?.trim();
    if (!apiKey) return undefined;
    const apiUrl = (env.BREVO_API_URL?.trim() || DEFAULT_BREVO_API_URL).replace(/\/+$/, "");
    let parsed: URL;
    try {
      parsed = new URL(apiUrl);
    } catch {
      throw new Error(`BREVO_API_URL is not a URL: ${apiUrl}`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error("BREVO_API_URL must be an http(s) URL");
    let ratePerSecond: number | undefined;
    const rate = env.BREVO_RATE_LIMIT?.trim();
    if (rate) {
      ratePerSecond = Number(rate);
      if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new Error(`BREVO_RATE_LIMIT must be a positive number of deliveries per second (got "${rate}")`);
    }
    const stages = parseStages(env.BREVO_DEAL_STAGES);
    const pipelineId = env.BREVO_PIPELINE_ID?.trim() || undefined;
    if (Object.keys(stages).length && !pipelineId) throw new Error("BREVO_DEAL_STAGES needs BREVO_PIPELINE_ID (Brevo moves a deal's stage only with its pipeline)");
    return { apiKey, apiUrl, ratePerSecond, customAttributes: parseBoolean("BREVO_CUSTOM_ATTRIBUTES", env.BREVO_CUSTOM_ATTRIBUTES), pipelineId, stages };
  },
  rateLimit(s) {
    const perSecond = s.ratePerSecond ?? DEFAULT_RATE_PER_SECOND;
    return { perSecond, burst: Math.max(1, Math.ceil(perSecond)) };
  },
  deliver(event, s, ctx) {
    if (event.type === "lead.upserted") return deliverLead(event, s, ctx);
    if (event.type === "callback.created") return deliverCallback(event, s, ctx);
    return deliverRequest(event, s, ctx);
  },
  test: (s, ctx) => checkWithRead(ctx, `${s.apiUrl}/account`, { headers: { "api-key": s.apiKey, accept: "application/json" }, redirect: "manual" }, "API key (BREVO_API_KEY)"),
  localEnv: (url) => ({ BREVO_API_URL: url, BREVO_API_KEY: LOCAL_BREVO_KEY }),
};
