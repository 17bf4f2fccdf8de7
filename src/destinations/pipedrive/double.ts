/**
 * A Pipedrive double: the part of Pipedrive's API the pipedrive destination
 * uses, as Pipedrive documents it. Sources:
 * - API reference v1 and v2, https://developers.pipedrive.com/docs/api/v1 and /v2, as
 *   published in the official OpenAPI-generated client (github.com/pipedrive/client-nodejs,
 *   src/versions/v1|v2): Persons searchPersons / addPerson / getPersons / getPerson (v2),
 *   Deals addDeal / updateDeal / getDeals / getDeal (v2), Leads addLead / updateLead /
 *   getLeads / getLead (v1), Users getCurrentUser (v1); base paths /v1 and /api/v2,
 *   auth header `x-api-token`.
 * - Responses, https://pipedrive.readme.io/docs/core-api-concepts-responses:
 *   `{success:true, data, additional_data}` / `{success:false, error, error_info, data:null, additional_data:null}`.
 * - HTTP status codes, https://pipedrive.readme.io/docs/core-api-concepts-http-status-codes
 *   (400 request not understood, 401 invalid API token, 404, 405, 429).
 * - Rate limiting, https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting:
 *   per token, 2-second window, 20 requests for an api_token on the smallest plan and
 *   10 for the Search API; every answer carries x-ratelimit-limit, x-ratelimit-remaining,
 *   x-ratelimit-reset (seconds) and x-daily-requests-left; over the limit: 429.
 * - Daily API limit for POST/PUT endpoints (changelog, 2019): 10,000 writes a day per
 *   user, reset at midnight UTC, counted down by x-daily-requests-left.
 *
 * What it enforces: the token (401 in Pipedrive's shape, errorCode 401); the burst and
 * search limits and the daily write limit (429); exact_match search semantics (full,
 * case-insensitive value match; otherwise a substring of at least 2 characters) on
 * the requested `fields`; a person's `name` and the shape of `emails`/`phones`; a lead's
 * `title`, its link to a person or an organization, `value` as {amount, currency}
 * (both required); a deal's `title`, `status` (open|won|lost), `currency` (3 letters),
 * `lost_reason` only on a lost deal; that a referenced person exists (400) and that an
 * updated lead or deal exists (404). Pipedrive itself does not refuse a second person
 * with the same email, and neither does the double: `state()` shows any duplicate.
 */
import { counter, json, readJson, type VendorDouble } from "../double-kit.ts";
import { LOCAL_PIPEDRIVE_TOKEN } from "./index.ts";

export interface PipedriveDoubleOptions {
  token?: string;
  /** Requests per window per token (Essential/Lite api_token: 20 per 2 s). */
  burstLimit?: number;
  /** Search API requests per window (10 per 2 s). */
  searchBurstLimit?: number;
  windowMs?: number;
  /** POST/PUT/PATCH requests a day (10,000). */
  dailyWriteLimit?: number;
}

interface Contact { value: string; primary: boolean; label: string }
interface Person { id: number; name: string; owner_id: number; org_id: null; emails: Contact[]; phones: Contact[]; add_time: string; update_time: string; is_deleted: boolean; visible_to: number }
interface Lead {
  id: string; title: string; owner_id: number; creator_id: number; label_ids: string[]; person_id: number | null; organization_id: number | null;
  source_name: string; origin: string; is_archived: boolean; was_seen: boolean; value: { amount: number; currency: string } | null;
  expected_close_date: string | null; add_time: string; update_time: string; visible_to: string;
}
interface Deal {
  id: number; title: string; person_id: number | null; org_id: null; owner_id: number; pipeline_id: number; stage_id: number; value: number; currency: string;
  status: "open" | "won" | "lost"; lost_reason: string | null; won_time: string | null; lost_time: string | null; close_time: string | null;
  add_time: string; update_time: string; is_deleted: boolean; is_archived: boolean; visible_to: number;
}

const INFO = "Please check developers.pipedrive.com for more information about Pipedrive API.";
const PERSON_FIELDS = new Set(["name", "email", "phone", "notes", "custom_fields"]);
const DEAL_STATUSES = new Set(["open", "won", "lost"]);

class Invalid extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

const failure = (status: number, error: string, extra: Record<string, unknown> = {}) =>
  json({ success: false, error, error_info: INFO, data: null, additional_data: null, ...extra }, status);
const success = (data: unknown, status = 200, additional_data: unknown = null) => json({ success: true, data, additional_data }, status);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
const rfc3339 = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function nonEmptyString(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || !v.trim()) throw new Invalid(`Validation failed: ${field}: ${v === undefined ? "Required" : "Must be a non-empty string"}`);
  return v;
}

function contacts(body: Record<string, unknown>, field: "emails" | "phones"): Contact[] {
  const v = body[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Invalid(`Validation failed: ${field}: Must be an array`);
  return v.map((c, i) => {
    if (!isObject(c) || typeof c.value !== "string" || !c.value.trim()) throw new Invalid(`Validation failed: ${field}[${i}].value: Required`);
    if (c.primary !== undefined && typeof c.primary !== "boolean") throw new Invalid(`Validation failed: ${field}[${i}].primary: Must be a boolean`);
    if (c.label !== undefined && typeof c.label !== "string") throw new Invalid(`Validation failed: ${field}[${i}].label: Must be a string`);
    return { value: c.value, primary: (c.primary as boolean | undefined) ?? i === 0, label: (c.label as string | undefined) ?? (field === "emails" ? "work" : "mobile") };
  });
}

function intParam(url: URL, name: string, def: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > max) throw new Invalid(`Validation failed: ${name}: Must be an integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ""}`);
  return n;
}

function optionalId(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !isId(n)) throw new Invalid(`Validation failed: ${name}: Must be a positive integer`);
  return n;
}

/** A sliding window of request times, with what the x-ratelimit-* headers need. */
function window(limit: number, windowMs: number) {
  let times: number[] = [];
  const prune = (now: number) => { times = times.filter((t) => t > now - windowMs); };
  return {
    limit,
    take(now = Date.now()): boolean {
      prune(now);
      if (times.length >= limit) return false;
      times.push(now);
      return true;
    },
    remaining(now = Date.now()): number {
      prune(now);
      return Math.max(0, limit - times.length);
    },
    reset() { times = []; },
  };
}

export function createPipedriveDouble(options: PipedriveDoubleOptions = {}): VendorDouble {
  const token = options.token ?? LOCAL_PIPEDRIVE_TOKEN;
  const windowMs = options.windowMs ?? 2_000;
  const burst = window(options.burstLimit ?? 20, windowMs);
  const search = window(options.searchBurstLimit ?? 10, windowMs);
  const dailyWriteLimit = options.dailyWriteLimit ?? 10_000;
  let writes = 0;
  let persons: Person[] = [];
  let leads: Lead[] = [];
  let deals: Deal[] = [];
  let personId = counter(1);
  let dealId = counter(1);

  const livePerson = (id: unknown) => persons.find((p) => p.id === id && !p.is_deleted);

  function linkedPerson(body: Record<string, unknown>, field: string): number | null | undefined {
    const v = body[field];
    if (v === undefined || v === null) return v as undefined | null;
    if (!isId(v)) throw new Invalid(`Validation failed: ${field}: Must be a positive integer`);
    if (!livePerson(v)) throw new Invalid(`Person with id ${v} not found`);
    return v;
  }

  function noOrganization(body: Record<string, unknown>, field: string) {
    const v = body[field];
    if (v !== undefined && v !== null) throw new Invalid(`Organization with id ${String(v)} not found`);
  }

  function leadValue(body: Record<string, unknown>): Lead["value"] | undefined {
    const v = body.value;
    if (v === undefined || v === null) return v as undefined | null;
    if (!isObject(v) || typeof v.amount !== "number" || !Number.isFinite(v.amount) || typeof v.currency !== "string" || !/^[A-Z]{3}$/.test(v.currency)) {
      throw new Invalid("Validation failed: value: Must be an object with a numeric amount and a 3-letter currency, both required");
    }
    return { amount: v.amount, currency: v.currency };
  }

  function dealFields(body: Record<string, unknown>, creating: boolean, current?: Deal): Partial<Deal> {
    const out: Partial<Deal> = {};
    const title = nonEmptyString(body, "title", creating);
    if (title !== undefined) out.title = title;
    const person = linkedPerson(body, "person_id");
    if (person !== undefined) out.person_id = person;
    noOrganization(body, "org_id");
    if (body.value !== undefined) {
      if (typeof body.value !== "number" || !Number.isFinite(body.value)) throw new Invalid("Validation failed: value: Must be a number");
      out.value = body.value;
    }
    if (body.currency !== undefined) {
      if (typeof body.currency !== "string" || !/^[A-Z]{3}$/.test(body.currency)) throw new Invalid("Validation failed: currency: Must be a 3-letter currency code");
      out.currency = body.currency;
    }
    if (body.status !== undefined) {
      if (typeof body.status !== "string" || !DEAL_STATUSES.has(body.status)) throw new Invalid("Validation failed: status: Must be one of open, won, lost");
      out.status = body.status as Deal["status"];
    }
    for (const [field, only] of [["pipeline_id", 1], ["stage_id", 1]] as const) {
      if (body[field] !== undefined && body[field] !== only) throw new Invalid(`${field === "pipeline_id" ? "Pipeline" : "Stage"} with id ${String(body[field])} not found`);
    }
    const status = out.status ?? current?.status ?? "open";
    if (body.lost_reason !== undefined && body.lost_reason !== null) {
      if (typeof body.lost_reason !== "string") throw new Invalid("Validation failed: lost_reason: Must be a string");
      if (status !== "lost") throw new Invalid("lost_reason can only be set if deal status is lost");
      out.lost_reason = body.lost_reason;
    }
    return out;
  }

  function applyStatus(deal: Deal, previous: Deal["status"] | undefined) {
    if (deal.status === previous) return;
    const now = rfc3339();
    deal.won_time = deal.status === "won" ? now : null;
    deal.lost_time = deal.status === "lost" ? now : null;
    deal.close_time = deal.status === "open" ? null : now;
    if (deal.status !== "lost") deal.lost_reason = null;
  }

  function personSearchItem(p: Person, exact: boolean) {
    return {
      result_score: exact ? 1 : 0.5,
      item: {
        id: p.id, type: "person", name: p.name, phones: p.phones.map((c) => c.value), emails: p.emails.map((c) => c.value),
        visible_to: p.visible_to, owner: { id: p.owner_id }, organization: null, custom_fields: [], notes: [],
      },
    };
  }

  const routes: { method: string; path: RegExp; run: (url: URL, m: RegExpMatchArray, body: unknown) => Response }[] = [
    {
      method: "GET", path: /^\/v1\/users\/me$/, run: () => success({
        id: 1, name: "Sandbox Admin", email: "admin@sandbox.invalid", company_id: 1, company_name: "Sandbox",
        company_domain: "sandbox", is_admin: 1, active_flag: true, default_currency: "EUR", locale: "fr_FR", timezone_name: "Europe/Paris",
      }),
    },
    {
      method: "GET", path: /^\/api\/v2\/persons\/search$/, run: (url) => {
        const term = url.searchParams.get("term");
        if (term === null || term === "") throw new Invalid("Validation failed: term: Required");
        const exactRaw = url.searchParams.get("exact_match");
        if (exactRaw !== null && !["true", "false", "1", "0"].includes(exactRaw)) throw new Invalid("Validation failed: exact_match: Must be a boolean");
        const exact = exactRaw === "true" || exactRaw === "1";
        if (!exact && term.length < 2) throw new Invalid("Validation failed: term: Must be at least 2 characters long unless exact_match is enabled");
        const fields = (url.searchParams.get("fields") ?? [...PERSON_FIELDS].join(",")).split(",").map((f) => f.trim());
        const unknown = fields.find((f) => !PERSON_FIELDS.has(f));
        if (unknown !== undefined) throw new Invalid(`Validation failed: fields: "${unknown}" is not one of name, email, phone, notes, custom_fields`);
        const limit = intParam(url, "limit", 100, 500);
        const needle = term.toLowerCase();
        const matches = (v: string) => (exact ? v.toLowerCase() === needle : v.toLowerCase().includes(needle));
        const found = persons.filter((p) => !p.is_deleted && fields.some((f) =>
          f === "name" ? matches(p.name) : f === "email" ? p.emails.some((c) => matches(c.value)) : f === "phone" ? p.phones.some((c) => matches(c.value)) : false));
        return success({ items: found.slice(0, limit).map((p) => personSearchItem(p, exact)) }, 200, { next_cursor: null });
      },
    },
    {
      method: "GET", path: /^\/api\/v2\/persons$/, run: (url) => {
        const limit = intParam(url, "limit", 100, 500);
        return success(persons.filter((p) => !p.is_deleted).slice(0, limit), 200, { next_cursor: null });
      },
    },
    {
      method: "POST", path: /^\/api\/v2\/persons$/, run: (_url, _m, body) => {
        if (!isObject(body)) throw new Invalid("Validation failed: body: Must be a JSON object");
        const name = nonEmptyString(body, "name", true)!;
        noOrganization(body, "org_id");
        const now = rfc3339();
        const person: Person = {
          id: personId(), name, owner_id: 1, org_id: null, emails: contacts(body, "emails"), phones: contacts(body, "phones"),
          add_time: now, update_time: now, is_deleted: false, visible_to: 3,
        };
        persons.push(person);
        return success(person);
      },
    },
    {
      method: "GET", path: /^\/api\/v2\/persons\/(\d+)$/, run: (_url, m) => {
        const p = livePerson(Number(m[1]));
        if (!p) throw new Invalid("Person not found", 404);
        return success(p);
      },
    },
    {
      method: "GET", path: /^\/v1\/leads$/, run: (url) => {
        const limit = intParam(url, "limit", 100, 500);
        const start = intParam(url, "start", 0);
        const person = optionalId(url, "person_id");
        const all = leads.filter((l) => !l.is_archived && (person === undefined || l.person_id === person));
        const page = all.slice(start, start + limit);
        return success(page, 200, { pagination: { start, limit, more_items_in_collection: start + limit < all.length } });
      },
    },
    {
      method: "POST", path: /^\/v1\/leads$/, run: (_url, _m, body) => {
        if (!isObject(body)) throw new Invalid("Validation failed: body: Must be a JSON object");
        const title = nonEmptyString(body, "title", true)!;
        const person = linkedPerson(body, "person_id");
        noOrganization(body, "organization_id");
        if (person === undefined || person === null) throw new Invalid("A lead must be linked to a person or an organization: person_id or organization_id is required");
        const value = leadValue(body) ?? null;
        const now = new Date().toISOString();
        const lead: Lead = {
          id: crypto.randomUUID(), title, owner_id: 1, creator_id: 1, label_ids: [], person_id: person, organization_id: null,
          source_name: "API", origin: "API", is_archived: false, was_seen: false, value, expected_close_date: null,
          add_time: now, update_time: now, visible_to: "3",
        };
        leads.push(lead);
        return success(lead, 201);
      },
    },
    {
      method: "GET", path: /^\/v1\/leads\/([0-9a-f-]+)$/, run: (_url, m) => {
        const lead = leads.find((l) => l.id === m[1]);
        if (!lead) throw new Invalid("Lead not found", 404);
        return success(lead);
      },
    },
    {
      method: "PATCH", path: /^\/v1\/leads\/([^/]+)$/, run: (_url, m, body) => {
        const lead = leads.find((l) => l.id === decodeURIComponent(m[1]));
        if (!lead) throw new Invalid("Lead not found", 404);
        if (!isObject(body)) throw new Invalid("Validation failed: body: Must be a JSON object");
        const title = nonEmptyString(body, "title", false);
        const person = linkedPerson(body, "person_id");
        noOrganization(body, "organization_id");
        const value = leadValue(body);
        if ((person === null || (person === undefined && lead.person_id === null)) && lead.organization_id === null) {
          throw new Invalid("A lead must be linked to a person or an organization");
        }
        if (body.is_archived !== undefined && typeof body.is_archived !== "boolean") throw new Invalid("Validation failed: is_archived: Must be a boolean");
        if (title !== undefined) lead.title = title;
        if (person !== undefined) lead.person_id = person;
        if (value !== undefined) lead.value = value;
        if (typeof body.is_archived === "boolean") lead.is_archived = body.is_archived;
        lead.update_time = new Date().toISOString();
        return success(lead);
      },
    },
    {
      method: "GET", path: /^\/api\/v2\/deals$/, run: (url) => {
        const limit = intParam(url, "limit", 100, 500);
        const person = optionalId(url, "person_id");
        const statuses = url.searchParams.get("status")?.split(",");
        const cursor = url.searchParams.get("cursor");
        const offset = cursor ? Number(atob(cursor)) : 0;
        if (!Number.isSafeInteger(offset) || offset < 0) throw new Invalid("Validation failed: cursor: Invalid cursor");
        const all = deals.filter((d) => !d.is_deleted && (person === undefined || d.person_id === person) && (!statuses || statuses.includes(d.status)));
        const next = offset + limit < all.length ? btoa(String(offset + limit)) : null;
        return success(all.slice(offset, offset + limit), 200, { next_cursor: next });
      },
    },
    {
      method: "POST", path: /^\/api\/v2\/deals$/, run: (_url, _m, body) => {
        if (!isObject(body)) throw new Invalid("Validation failed: body: Must be a JSON object");
        const fields = dealFields(body, true);
        const now = rfc3339();
        const deal: Deal = {
          id: dealId(), title: fields.title!, person_id: fields.person_id ?? null, org_id: null, owner_id: 1, pipeline_id: 1, stage_id: 1,
          value: fields.value ?? 0, currency: fields.currency ?? "EUR", status: fields.status ?? "open", lost_reason: fields.lost_reason ?? null,
          won_time: null, lost_time: null, close_time: null, add_time: now, update_time: now, is_deleted: false, is_archived: false, visible_to: 3,
        };
        applyStatus(deal, undefined);
        deal.lost_reason = fields.lost_reason ?? null;
        deals.push(deal);
        return success(deal);
      },
    },
    {
      method: "GET", path: /^\/api\/v2\/deals\/(\d+)$/, run: (_url, m) => {
        const deal = deals.find((d) => d.id === Number(m[1]) && !d.is_deleted);
        if (!deal) throw new Invalid("Deal not found", 404);
        return success(deal);
      },
    },
    {
      method: "PATCH", path: /^\/api\/v2\/deals\/(\d+)$/, run: (_url, m, body) => {
        const deal = deals.find((d) => d.id === Number(m[1]) && !d.is_deleted);
        if (!deal) throw new Invalid("Deal not found", 404);
        if (!isObject(body)) throw new Invalid("Validation failed: body: Must be a JSON object");
        const fields = dealFields(body, false, deal);
        const previous = deal.status;
        Object.assign(deal, fields);
        applyStatus(deal, previous);
        if (fields.lost_reason !== undefined) deal.lost_reason = fields.lost_reason;
        deal.update_time = rfc3339();
        return success(deal);
      },
    },
  ];

  return {
    name: "pipedrive",
    async handle(req) {
      const url = new URL(req.url);
      const given = req.headers.get("x-api-token") ?? url.searchParams.get("api_token");
      if (given !== token) return json({ success: false, error: "unauthorized access", errorCode: 401, error_info: INFO }, 401);

      const now = Date.now();
      const isSearch = url.pathname.endsWith("/search");
      const isWrite = req.method === "POST" || req.method === "PUT" || req.method === "PATCH";
      const rateHeaders = () => ({
        "x-ratelimit-limit": String(burst.limit),
        "x-ratelimit-remaining": String(burst.remaining(now)),
        "x-ratelimit-reset": String(Math.ceil(windowMs / 1000)),
        "x-daily-requests-left": String(Math.max(0, dailyWriteLimit - writes)),
      });
      const withHeaders = (res: Response) => {
        for (const [k, v] of Object.entries(rateHeaders())) res.headers.set(k, v);
        return res;
      };
      if (!burst.take(now) || (isSearch && !search.take(now))) return withHeaders(failure(429, "Request over limit"));
      if (isWrite) {
        if (writes >= dailyWriteLimit) return withHeaders(failure(429, "Daily limit for POST/PUT requests reached; it resets at midnight UTC"));
        writes++;
      }

      const known = routes.filter((r) => r.path.test(url.pathname));
      const route = known.find((r) => r.method === req.method);
      if (!route) return withHeaders(known.length ? failure(405, "Method not allowed") : failure(404, `Unknown method ${url.pathname}`));
      let body: unknown;
      if (req.method !== "GET") {
        body = await readJson(req);
        if (body === undefined) return withHeaders(failure(400, "Invalid JSON in the request body"));
      }
      try {
        return withHeaders(route.run(url, url.pathname.match(route.path)!, body));
      } catch (err) {
        if (err instanceof Invalid) return withHeaders(failure(err.status, err.message));
        throw err;
      }
    },
    state: () => structuredClone({ persons, leads, deals }),
    reset() {
      persons = [];
      leads = [];
      deals = [];
      personId = counter(1);
      dealId = counter(1);
      writes = 0;
      burst.reset();
      search.reset();
    },
  };
}
