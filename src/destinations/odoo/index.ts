/**
 * Odoo (issue 14), through the JSON-2 API of Odoo 19+ (`ODOO_API=json2`, the
 * default) or the JSON-RPC API of older versions (`ODOO_API=jsonrpc`), the same
 * calls either way (./client.ts):
 * - the partner (`res.partner`) is remembered, else found by email (`=ilike`, exact
 *   and case-insensitive; by phone for a call-back) with `search_read`, else created;
 * - each record has ONE `crm.lead`: created with `create`, remembered at once, then
 *   updated with `write` on that id; a request's is an opportunity whose expected
 *   revenue follows the payment, won (`action_set_won`) when paid and lost
 *   (`action_set_lost`) when refunded;
 * - a crm.lead not remembered, for a partner this attempt did not create, is first
 *   searched by the "[<lovable id>]" its name ends with or the marker of its
 *   description, archived ones included, so an attempt cut between a creation and
 *   its remembering never duplicates it. Odoo has no idempotency key.
 * Answers: docs/destinations/odoo.md (401 pause, 403/404/422 dead, 409/429/5xx retry).
 */
import { delivered, excerptOf } from "../http.ts";
import { type AttemptOutcome, busy, type DestinationCheck, type DestinationContext, type DestinationModule, type RateLimit } from "../types.ts";
import { callOdoo, uidOf, type Answer, type OdooApi, type OdooCall, type OdooSettings } from "./client.ts";
import { leadDomain, planOf, type DomainTerm, type PartnerVals } from "./mapping.ts";

export type { OdooSettings } from "./client.ts";

export const LOCAL_ODOO_API_KEY = "local-sandbox-odoo-api-key";
export const LOCAL_ODOO_DATABASE = "sandbox";
export const LOCAL_ODOO_LOGIN = "bridge@sandbox.invalid";

/**
 * Odoo documents no request rate limit for its external API (Odoo Online, Odoo.sh or
 * on-premise); each call is one SQL transaction on the customer's own workers, often
 * few. A modest pace: 2 deliveries a second (at most 5 calls each: 10 calls/s), 4 at once.
 */
export const DEFAULT_ODOO_RATE: RateLimit = { perSecond: 2, burst: 4 };

const API_SUFFIX = /\/(json\/2|jsonrpc|xmlrpc(\/2)?|web)(\/.*)?$/;

function baseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error("ODOO_URL is not a URL: give the instance's base URL, e.g. https://acme.odoo.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("ODOO_URL must be an http(s) URL");
  if (url.search || url.hash) throw new Error("ODOO_URL must not have a query or fragment");
  const path = url.pathname.replace(/\/+$/, "");
  if (API_SUFFIX.test(path)) throw new Error("ODOO_URL must be the instance's base URL without /json/2, /jsonrpc or /web, e.g. https://acme.odoo.com");
  return `${url.origin}${path}`;
}

function rateOverride(value: string): RateLimit {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1000) {
    throw new Error(`ODOO_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "2" (got "${value}")`);
  }
  return { perSecond: n, burst: Math.max(1, Math.floor(n * 2)) };
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

function unexpected(answer: { status: number; text: string }, what: string, missing: string): AttemptOutcome {
  const excerpt = excerptOf(answer.text);
  return { kind: "retry", httpStatus: answer.status, excerpt, error: `${what}: HTTP ${answer.status} without ${missing} — not Odoo's answer? ${excerpt.slice(0, 200)}` };
}

type Step<T> = { ok: true; value: T; created: boolean } | { ok: false; outcome: AttemptOutcome };

/** search_read of the first record matching `domain` (archived ones too when `all`). */
async function findOne(ctx: DestinationContext, s: OdooSettings, model: string, domain: DomainTerm[], all = false): Promise<Step<number | undefined>> {
  const call: OdooCall = {
    model, method: "search_read", positional: ["domain"],
    params: { domain, fields: ["id"], limit: 1, order: "id asc" },
    ...(all ? { context: { active_test: false } } : {}),
  };
  const found = await callOdoo<{ id?: unknown }[]>(ctx, s, call);
  if (!found.ok) return { ok: false, outcome: found.outcome };
  if (!Array.isArray(found.value)) return { ok: false, outcome: unexpected(found, `${model}/search_read`, "a list of records") };
  const id = found.value[0]?.id;
  return { ok: true, value: isId(id) ? id : undefined, created: false };
}

async function create(ctx: DestinationContext, s: OdooSettings, model: string, vals: Record<string, unknown>): Promise<Answer<number>> {
  const created = await callOdoo<unknown>(ctx, s, { model, method: "create", positional: ["vals_list"], params: { vals_list: [vals] } });
  if (!created.ok) return created;
  const id = Array.isArray(created.value) ? created.value[0] : created.value;
  if (!isId(id)) return { ok: false, status: created.status, text: created.text, outcome: unexpected(created, `${model}/create`, "the new id") };
  return { ...created, value: id };
}

async function ensurePartner(ctx: DestinationContext, s: OdooSettings, domain: DomainTerm[], vals: PartnerVals): Promise<Step<number>> {
  const known = Number(ctx.remote.get("partner"));
  if (isId(known)) return { ok: true, value: known, created: false };
  // Two records of one person delivered at once must not both create the partner.
  const step = await ctx.exclusive(`partner:${JSON.stringify(domain)}`, () => findOrCreatePartner(ctx, s, domain, vals));
  return step ?? { ok: false, outcome: busy("this partner") };
}

async function findOrCreatePartner(ctx: DestinationContext, s: OdooSettings, domain: DomainTerm[], vals: PartnerVals): Promise<Step<number>> {  const found = await findOne(ctx, s, "res.partner", domain);
  if (!found.ok) return found;
  if (found.value !== undefined) {
    await ctx.remote.set("partner", String(found.value));
    return { ok: true, value: found.value, created: false };
  }
  const created = await create(ctx, s, "res.partner", vals);
  if (!created.ok) return { ok: false, outcome: created.outcome };
  await ctx.remote.set("partner", String(created.value));
  return { ok: true, value: created.value, created: true };
}

function checkFailed(reachable: boolean, credentialsAccepted: boolean | null, httpStatus: number | null, message: string): DestinationCheck {
  return { ok: false, reachable, credentialsAccepted, httpStatus, message };
}

/** The credentials check's verdict on a failed call. */
function checkOf(answer: Extract<Answer<unknown>, { ok: false }>, s: OdooSettings): DestinationCheck {
  const o = answer.outcome;
  const error = "error" in o ? o.error : "";
  if (answer.status === null) return checkFailed(false, null, null, `Cannot reach ${s.url}: ${error} (check ODOO_URL).`);
  if (o.kind === "pause" && /refused/.test(o.reason)) return checkFailed(true, false, answer.status, o.reason);
  if (o.kind === "pause") return checkFailed(true, null, answer.status, o.reason);
  if (answer.status === 404) return checkFailed(true, null, 404, `Reachable, but ${error}`);
  return checkFailed(true, null, answer.status, `Reachable, but could not tell whether the credentials are valid: ${error}`);
}

export const odoo: DestinationModule<OdooSettings> = {
  name: "odoo",
  // authenticate (JSON-RPC, once per process) + partner search + partner create or lead
  // search + lead create/write + action_set_won/lost.
  maxCallsPerDelivery: 5,

  settings(env) {
    const url = env.ODOO_URL?.trim();
    const apiKey = env.ODOO_API_KEY?.trim();
    const database = env.ODOO_DATABASE?.trim();
    const api = (env.ODOO_API?.trim() || "json2").toLowerCase();
    const login = env.ODOO_LOGIN?.trim();
    const rate = env.ODOO_RATE_LIMIT?.trim();
    if (!url && !apiKey) {
      const stray = (["ODOO_DATABASE", "ODOO_API", "ODOO_LOGIN", "ODOO_RATE_LIMIT"] as const).filter((k) => env[k]?.trim());
      if (stray.length) throw new Error(`${stray.join(", ")} set without ODOO_URL and ODOO_API_KEY: set both to enable Odoo, or unset them`);
      return undefined;
    }
    if (!url) throw new Error("ODOO_URL is not set while ODOO_API_KEY is: give the Odoo instance's base URL, e.g. https://acme.odoo.com");
    if (!apiKey) throw new Error("ODOO_API_KEY is not set while ODOO_URL is: create an API key for the integration user (Preferences → Account Security → New API Key)");
    if (/[\s\u0000-\u001f\u007f]/.test(apiKey)) throw new Error("ODOO_API_KEY must not contain spaces or control characters");
    if (api !== "json2" && api !== "jsonrpc") throw new Error(`ODOO_API must be "json2" (Odoo 19 and later) or "jsonrpc" (older versions), got "${env.ODOO_API}"`);
    if (database !== undefined && database !== "" && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(database)) {
      throw new Error("ODOO_DATABASE must be a database name (letters, digits, _ . -)");
    }
    if (api === "jsonrpc") {
      if (!database) throw new Error("ODOO_DATABASE is required with ODOO_API=jsonrpc (the JSON-RPC API names the database in every call)");
      if (!login) throw new Error("ODOO_LOGIN is required with ODOO_API=jsonrpc (the login of the user the API key belongs to)");
    }
    const settings: OdooSettings = { url: baseUrl(url), apiKey, api: api as OdooApi };
    if (database) settings.database = database;
    if (api === "jsonrpc") settings.login = login;
    if (rate) settings.rateLimit = rateOverride(rate);
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_ODOO_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) return { kind: "dead", httpStatus: null, error: plan.error };

    const partner = await ensurePartner(ctx, s, plan.partnerDomain, plan.partner);
    if (!partner.ok) return partner.outcome;

    let leadId = Number(ctx.remote.get("lead"));
    if (!isId(leadId) && !partner.created) {
      const found = await findOne(ctx, s, "crm.lead", leadDomain(plan.ref, plan.marker), true);
      if (!found.ok) return found.outcome;
      if (found.value !== undefined) {
        leadId = found.value;
        await ctx.remote.set("lead", String(leadId));
      }
    }

    const vals = { ...plan.lead, partner_id: partner.value };
    let last: { status: number; text: string };
    if (isId(leadId)) {
      const written = await callOdoo<unknown>(ctx, s, { model: "crm.lead", method: "write", ids: [leadId], positional: ["vals"], params: { vals } });
      if (!written.ok) return written.outcome;
      if (written.value !== true) return unexpected(written, "crm.lead/write", "true");
      last = written;
    } else {
      const created = await create(ctx, s, "crm.lead", vals);
      if (!created.ok) return created.outcome;
      leadId = created.value;
      await ctx.remote.set("lead", String(leadId));
      last = created;
    }

    if (plan.outcome) {
      const method = plan.outcome === "won" ? "action_set_won" : "action_set_lost";
      const done = await callOdoo<unknown>(ctx, s, { model: "crm.lead", method, ids: [leadId] });
      if (!done.ok) return done.outcome;
      last = done;
    }
    return delivered(last);
  },

  async test(s, ctx): Promise<DestinationCheck> {
    // Reads only: who the key belongs to, then whether crm.lead exists (the CRM app).
    let who: string;
    if (s.api === "jsonrpc") {
      const uid = await uidOf(ctx, s);
      if (!uid.ok) return checkOf(uid, s);
      who = `user id ${uid.value}`;
    } else {
      const me = await callOdoo<{ uid?: unknown; lang?: unknown } | null>(ctx, s, { model: "res.users", method: "context_get" });
      if (!me.ok) return checkOf(me, s);
      if (!me.value || typeof me.value !== "object" || !("uid" in me.value || "lang" in me.value)) {
        return checkFailed(true, null, me.status, "HTTP 200, but not Odoo's answer for res.users/context_get: check ODOO_URL.");
      }
      who = isId(me.value.uid) ? `user id ${me.value.uid}` : "its user";
    }
    const crm = await callOdoo<unknown>(ctx, s, { model: "crm.lead", method: "search_count", positional: ["domain"], params: { domain: [] } });
    if (!crm.ok) {
      const error = "error" in crm.outcome ? crm.outcome.error : "";
      if (crm.status === null) return checkOf(crm, s);
      return checkFailed(true, true, crm.status, `Credentials accepted (${who}), but crm.lead cannot be read — ${error}. Install the CRM app and give the user Sales rights.`);
    }
    if (typeof crm.value !== "number") return checkFailed(true, true, crm.status, "Credentials accepted, but crm.lead/search_count did not answer a number: check ODOO_URL.");
    return {
      ok: true, reachable: true, credentialsAccepted: true, httpStatus: crm.status,
      message: `Reachable through ${s.api === "jsonrpc" ? "JSON-RPC" : "JSON-2"}, credentials accepted (${who}), CRM present; nothing was created.`,
    };
  },

  localEnv: (url) => ({ ODOO_URL: url, ODOO_API_KEY: LOCAL_ODOO_API_KEY, ODOO_DATABASE: LOCAL_ODOO_DATABASE, ODOO_LOGIN: LOCAL_ODOO_LOGIN }),
};
