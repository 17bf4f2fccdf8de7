/**
 * A Sellsy double: the part of Sellsy's API v2 the sellsy destination uses, as
 * Sellsy documents it. Sources:
 * - API v2 reference, https://api.sellsy.com/doc/v2/ (OpenAPI 3, v2.128; the same schema
 *   is published in Sellsy's own client code): POST /individuals {type, last_name, …},
 *   POST /individuals/search {filters: {email (exact), …}}, PUT /individuals/{id};
 *   POST /contacts {last_name, …}, POST /contacts/search {filters: {email, mobile_number,
 *   phone_number, companies}}, PUT /contacts/{id}; POST /companies {type, name, legal_france,
 *   …}, POST /companies/search {filters: {email, name}}; POST /companies/{id}/contacts/{contactId};
 *   POST /opportunities {name, status (open|won|lost|cancelled|closed|late), pipeline, step,
 *   amount (decimal string), related [{type: company|individual|contact, id}], contact_ids,
 *   note}, PUT /opportunities/{id}, POST /opportunities/search {filters: {name,
 *   related_objects}}; GET /opportunities/pipelines, GET /opportunities/pipelines/{id}/steps;
 *   GET /scopes. Lists and searches answer {data: [...], pagination}.
 * - Errors: `{"error": {"code", "message", "context", "details": {FIELD: message}}}`;
 *   400 validation, 401 authentication, 402 quota/plan limit, 403 privileges, 404, 409
 *   conflict, 429 quotas.
 * - Quotas: requests per second/minute/day/month per account (5 a second; 432,000 a day);
 *   every answer carries X-Quota-Remaining-By-Second/-Minute/-Day/-Month; 429 when one is 0.
 * - OAuth2 client credentials: POST https://login.sellsy.com/oauth2/access-tokens
 *   (form: grant_type=client_credentials, client_id, client_secret) →
 *   {token_type: "Bearer", expires_in, access_token}; RFC 6749 error shape when refused.
 * What Sellsy does not document, the double does not invent: no email uniqueness
 * (state() shows any duplicate), and an opportunity needs its pipeline, step and
 * related object (as Sellsy's create form and its connectors require). A contact
 * linked twice to the same company gets 409.
 */
import { json, type VendorDouble } from "../double-kit.ts";
import { LOCAL_SELLSY_CLIENT_ID, LOCAL_SELLSY_CLIENT_SECRET } from "./index.ts";

export interface SellsyDoubleOptions {
  clientId?: string;
  clientSecret?: string;
  /** Token lifetime in seconds (Sellsy: 24 h). */
  tokenTtlSeconds?: number;
  perSecond?: number;
  perDay?: number;
}

export interface SIndividual { id: number; type: string; last_name: string; first_name: string | null; email: string | null; mobile_number: string | null; note: string }
export interface SContact { id: number; last_name: string; first_name: string | null; email: string | null; mobile_number: string | null; phone_number: string | null; note: string; companies: number[] }
export interface SCompany { id: number; type: string; name: string; email: string | null; phone_number: string | null; legal_france: { siren: string | null }; note: string }
export interface SOpportunity {
  id: number; number: string; name: string; status: string; pipeline: number; step: number; amount: string;
  related: { type: string; id: number }[]; contact_ids: number[]; note: string; updated: string;
}

class Fail extends Error {
  constructor(readonly status: number, message: string, readonly details?: Record<string, string>) {
    super(message);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PIPELINES = [{ id: 1, name: "Raccordements", steps: [{ id: 11, name: "Nouveau" }, { id: 12, name: "Devis envoyé" }] }];
const OPP_STATUSES = new Set(["open", "won", "lost", "cancelled", "closed", "late"]);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function str(body: Record<string, unknown>, field: string, required: boolean): string | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw new Fail(400, "Validation failed", { [field]: "This value should not be blank." });
    return v as null | undefined;
  }
  if (typeof v !== "string" || (required && !v.trim())) throw new Fail(400, "Validation failed", { [field]: required ? "This value should not be blank." : "This value should be of type string." });
  return v;
}

function email(body: Record<string, unknown>): string | null | undefined {
  const v = str(body, "email", false);
  if (typeof v === "string" && v !== "" && !EMAIL.test(v)) throw new Fail(400, "Validation failed", { email: "This value is not a valid email address." });
  return v;
}

function filtersOf(body: unknown): Record<string, unknown> {
  if (!isObject(body) || !isObject(body.filters)) throw new Fail(400, "Validation failed", { filters: "This value should not be blank." });
  return body.filters;
}

const same = (a: string | null | undefined, b: unknown) => typeof b === "string" && typeof a === "string" && a.toLowerCase() === b.toLowerCase();

export function createSellsyDouble(options: SellsyDoubleOptions = {}): VendorDouble {
  const clientId = options.clientId ?? LOCAL_SELLSY_CLIENT_ID;
  const clientSecret = options.clientSecret ?? LOCAL_SELLSY_CLIENT_SECRET;
  const ttl = options.tokenTtlSeconds ?? 86_400;
  const perSecond = options.perSecond ?? 5;
  const perDay = options.perDay ?? 432_000;
  let tokens = new Map<string, number>();
  let individuals: SIndividual[] = [];
  let contacts: SContact[] = [];
  let companies: SCompany[] = [];
  let opportunities: SOpportunity[] = [];
  let ids = 100;
  let second: number[] = [];
  let today = 0;

  const quotaHeaders = (now: number) => ({
    "x-quota-remaining-by-second": String(Math.max(0, perSecond - second.filter((t) => t > now - 1000).length)),
    "x-quota-remaining-by-minute": "300",
    "x-quota-remaining-by-day": String(Math.max(0, perDay - today)),
    "x-quota-remaining-by-month": "9000000",
  });
  const fail = (status: number, message: string, context: string, details?: Record<string, string>, headers: Record<string, string> = {}) =>
    json({ error: { code: status, message, context, details: details ?? {} } }, status, headers);
  const list = (data: unknown[]) => json({ data, pagination: { limit: 100, count: data.length, total: data.length, offset: 0 } });

  function ensureIndividualOrCompany(type: unknown, id: unknown) {
    if (type === "individual" && individuals.some((i) => i.id === id)) return;
    if (type === "company" && companies.some((c) => c.id === id)) return;
    if (type === "contact" && contacts.some((c) => c.id === id)) return;
    throw new Fail(400, "Validation failed", { related: `Related ${String(type)} ${String(id)} not found` });
  }

  function opportunityFields(body: Record<string, unknown>, current?: SOpportunity): Partial<SOpportunity> {
    const out: Partial<SOpportunity> = {};
    const name = str(body, "name", !current);
    if (name) out.name = name;
    if (body.status !== undefined) {
      if (typeof body.status !== "string" || !OPP_STATUSES.has(body.status)) throw new Fail(400, "Validation failed", { status: "The value you selected is not a valid choice." });
      out.status = body.status;
    }
    if (body.amount !== undefined) {
      if (typeof body.amount !== "string" || !/^\d+(\.\d{1,2})?$/.test(body.amount)) throw new Fail(400, "Validation failed", { amount: "This value should be a decimal string." });
      out.amount = body.amount;
    }
    const pipeline = body.pipeline ?? current?.pipeline;
    const step = body.step ?? current?.step;
    if (!current && (pipeline === undefined || step === undefined)) throw new Fail(400, "Validation failed", { [pipeline === undefined ? "pipeline" : "step"]: "This value should not be blank." });
    const p = PIPELINES.find((x) => x.id === pipeline);
    if (!p) throw new Fail(400, "Validation failed", { pipeline: `Pipeline ${String(pipeline)} not found` });
    if (!p.steps.some((x) => x.id === step)) throw new Fail(400, "Validation failed", { step: `Step ${String(step)} does not belong to pipeline ${p.id}` });
    out.pipeline = p.id;
    out.step = step as number;
    if (body.related !== undefined || !current) {
      if (!Array.isArray(body.related) || body.related.length === 0) throw new Fail(400, "Validation failed", { related: "An opportunity must be related to a company or an individual." });
      for (const r of body.related) {
        if (!isObject(r)) throw new Fail(400, "Validation failed", { related: "Invalid related object" });
        ensureIndividualOrCompany(r.type, r.id);
      }
      if (!body.related.some((r) => isObject(r) && (r.type === "company" || r.type === "individual"))) throw new Fail(400, "Validation failed", { related: "One company or one individual is required." });
      out.related = body.related.map((r) => ({ type: String((r as Record<string, unknown>).type), id: Number((r as Record<string, unknown>).id) }));
    }
    if (body.contact_ids !== undefined && body.contact_ids !== null) {
      if (!Array.isArray(body.contact_ids) || body.contact_ids.some((c) => !contacts.some((x) => x.id === c))) throw new Fail(400, "Validation failed", { contact_ids: "Contact not found" });
      out.contact_ids = body.contact_ids as number[];
    }
    if (body.note !== undefined) out.note = String(body.note);
    return out;
  }

  function api(method: string, path: string, body: unknown): Response {
    let m: RegExpMatchArray | null;
    if (method === "GET" && path === "/scopes") return json([{ name: "individuals.read" }, { name: "individuals.write" }, { name: "contacts.write" }, { name: "companies.write" }, { name: "opportunities.write" }]);
    if (method === "GET" && path === "/opportunities/pipelines") return list(PIPELINES.map(({ id, name }) => ({ id, name })));
    if (method === "GET" && (m = path.match(/^\/opportunities\/pipelines\/(\d+)\/steps$/))) {
      const p = PIPELINES.find((x) => x.id === Number(m![1]));
      if (!p) throw new Fail(404, "Pipeline not found");
      return list(p.steps);
    }
    if (method === "POST" && path === "/individuals/search") {
      const f = filtersOf(body);
      return list(individuals.filter((i) => (f.email === undefined || same(i.email, f.email)) && (f.name === undefined || same(i.last_name, f.name))));
    }
    if (method === "POST" && path === "/individuals") {
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      if (!["prospect", "client", "supplier"].includes(body.type as string)) throw new Fail(400, "Validation failed", { type: "The value you selected is not a valid choice." });
      const ind: SIndividual = {
        id: ids++, type: body.type as string, last_name: str(body, "last_name", true)!, first_name: str(body, "first_name", false) ?? null,
        email: email(body) ?? null, mobile_number: str(body, "mobile_number", false) ?? null, note: String(body.note ?? ""),
      };
      individuals.push(ind);
      return json(ind, 201);
    }
    if (method === "PUT" && (m = path.match(/^\/individuals\/(\d+)$/))) {
      const ind = individuals.find((x) => x.id === Number(m![1]));
      if (!ind) throw new Fail(404, "Individual not found");
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      if (body.last_name !== undefined) ind.last_name = str(body, "last_name", true)!;
      if (body.first_name !== undefined) ind.first_name = str(body, "first_name", false) ?? null;
      if (body.email !== undefined) ind.email = email(body) ?? null;
      if (body.mobile_number !== undefined) ind.mobile_number = str(body, "mobile_number", false) ?? null;
      if (body.note !== undefined) ind.note = String(body.note);
      return json(ind);
    }
    if (method === "POST" && path === "/contacts/search") {
      const f = filtersOf(body);
      const cos = Array.isArray(f.companies) ? f.companies : undefined;
      return list(contacts.filter((c) => (f.email === undefined || same(c.email, f.email)) && (f.mobile_number === undefined || c.mobile_number === f.mobile_number)
        && (f.phone_number === undefined || c.phone_number === f.phone_number) && (!cos || c.companies.some((x) => cos.includes(x)))));
    }
    if (method === "POST" && path === "/contacts") {
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      const c: SContact = {
        id: ids++, last_name: str(body, "last_name", true)!, first_name: str(body, "first_name", false) ?? null, email: email(body) ?? null,
        mobile_number: str(body, "mobile_number", false) ?? null, phone_number: str(body, "phone_number", false) ?? null, note: String(body.note ?? ""), companies: [],
      };
      contacts.push(c);
      return json(c, 201);
    }
    if (method === "PUT" && (m = path.match(/^\/contacts\/(\d+)$/))) {
      const c = contacts.find((x) => x.id === Number(m![1]));
      if (!c) throw new Fail(404, "Contact not found");
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      if (body.last_name !== undefined) c.last_name = str(body, "last_name", true)!;
      if (body.first_name !== undefined) c.first_name = str(body, "first_name", false) ?? null;
      if (body.email !== undefined) c.email = email(body) ?? null;
      if (body.mobile_number !== undefined) c.mobile_number = str(body, "mobile_number", false) ?? null;
      if (body.note !== undefined) c.note = String(body.note);
      return json(c);
    }
    if (method === "POST" && path === "/companies/search") {
      const f = filtersOf(body);
      return list(companies.filter((c) => (f.email === undefined || same(c.email, f.email)) && (f.name === undefined || same(c.name, f.name))));
    }
    if (method === "POST" && path === "/companies") {
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      if (!["prospect", "client", "supplier"].includes(body.type as string)) throw new Fail(400, "Validation failed", { type: "The value you selected is not a valid choice." });
      const lf = isObject(body.legal_france) ? body.legal_france : {};
      if (lf.siren !== undefined && lf.siren !== null && !(typeof lf.siren === "string" && /^\d{9}$/.test(lf.siren))) throw new Fail(400, "Validation failed", { "legal_france.siren": "This value is not a valid SIREN." });
      const c: SCompany = {
        id: ids++, type: body.type as string, name: str(body, "name", true)!, email: email(body) ?? null, phone_number: str(body, "phone_number", false) ?? null,
        legal_france: { siren: (lf.siren as string | undefined) ?? null }, note: String(body.note ?? ""),
      };
      companies.push(c);
      return json(c, 201);
    }
    if (method === "POST" && (m = path.match(/^\/companies\/(\d+)\/contacts\/(\d+)$/))) {
      const co = companies.find((x) => x.id === Number(m![1]));
      const ct = contacts.find((x) => x.id === Number(m![2]));
      if (!co) throw new Fail(404, "Company not found");
      if (!ct) throw new Fail(404, "Contact not found");
      if (ct.companies.includes(co.id)) throw new Fail(409, "The contact is already linked to this company");
      ct.companies.push(co.id);
      return new Response(null, { status: 201 });
    }
    if (method === "POST" && path === "/opportunities/search") {
      const f = filtersOf(body);
      const rel = Array.isArray(f.related_objects) ? (f.related_objects as { type: string; id: number }[]) : undefined;
      return list(opportunities.filter((o) => (typeof f.name !== "string" || o.name.toLowerCase().includes(f.name.toLowerCase()))
        && (!rel || rel.some((r) => o.related.some((x) => x.type === r.type && x.id === r.id)))));
    }
    if (method === "POST" && path === "/opportunities") {
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      const f = opportunityFields(body);
      const id = ids++;
      const o: SOpportunity = {
        id, number: `OPP-${id}`, name: f.name!, status: f.status ?? "open", pipeline: f.pipeline!, step: f.step!, amount: f.amount ?? "0.00",
        related: f.related!, contact_ids: f.contact_ids ?? [], note: f.note ?? "", updated: new Date().toISOString(),
      };
      opportunities.push(o);
      return json(o, 201);
    }
    if (method === "PUT" && (m = path.match(/^\/opportunities\/(\d+)$/))) {
      const o = opportunities.find((x) => x.id === Number(m![1]));
      if (!o) throw new Fail(404, "Opportunity not found");
      if (!isObject(body)) throw new Fail(400, "Validation failed", { body: "Invalid JSON" });
      Object.assign(o, opportunityFields(body, o), { updated: new Date().toISOString() });
      return json(o);
    }
    throw new Fail(404, "Page not found");
  }

  return {
    name: "sellsy",
    async handle(req) {
      const url = new URL(req.url);
      if (url.pathname === "/oauth2/access-tokens") {
        if (req.method !== "POST") return json({ error: "invalid_request", error_description: "POST required" }, 405);
        const form = new URLSearchParams(await req.text());
        if (form.get("grant_type") !== "client_credentials") return json({ error: "unsupported_grant_type", error_description: "The authorization grant type is not supported." }, 400);
        if (form.get("client_id") !== clientId || form.get("client_secret") !== clientSecret) {
          return json({ error: "invalid_client", error_description: "Client authentication failed", message: "Client authentication failed" }, 401);
        }
        const token = crypto.randomUUID().replace(/-/g, "");
        tokens.set(token, Date.now() + ttl * 1000);
        return json({ token_type: "Bearer", expires_in: ttl, access_token: token });
      }
      if (!url.pathname.startsWith("/v2/")) return fail(404, "Page not found", "route");
      const now = Date.now();
      const auth = req.headers.get("authorization") ?? "";
      const token = /^Bearer (.+)$/.exec(auth)?.[1];
      const expires = token ? tokens.get(token) : undefined;
      if (!expires || expires <= now) return fail(401, expires ? "The access token provided has expired" : "Authentication required", "authentication");

      second = second.filter((t) => t > now - 1000);
      if (second.length >= perSecond || today >= perDay) {
        return fail(429, "Quotas of requests reached", "quota", undefined, quotaHeaders(now));
      }
      second.push(now);
      today++;
      let body: unknown;
      if (req.method === "POST" || req.method === "PUT") {
        const text = await req.text();
        try { body = text ? JSON.parse(text) : {}; } catch { return fail(400, "Invalid JSON body", "body", undefined, quotaHeaders(now)); }
      }
      try {
        const res = api(req.method, url.pathname.slice(3), body);
        for (const [k, v] of Object.entries(quotaHeaders(now))) res.headers.set(k, v);
        return res;
      } catch (err) {
        if (err instanceof Fail) return fail(err.status, err.message, err.status === 400 ? "validation" : "resource", err.details, quotaHeaders(now));
        throw err;
      }
    },
    state: () => structuredClone({ individuals, contacts, companies, opportunities }),
    reset() {
      tokens = new Map();
      individuals = [];
      contacts = [];
      companies = [];
      opportunities = [];
      ids = 100;
      second = [];
      today = 0;
    },
  };
}
