/**
 * A Brevo API v3 double (Node only: tests and the local stack). It follows:
 * - Authentication, key concepts: https://developers.brevo.com/docs/how-it-works
 *   (`api-key` header; errors `{code, message}`, codes from the published
 *   errorModel enum: invalid_parameter, missing_parameter, duplicate_parameter,
 *   document_not_found, unauthorized…).
 * - Create a contact: https://developers.brevo.com/reference/create-contact —
 *   email, or the SMS attribute with a country code (+33…, 33…, 0033…), or
 *   ext_id; attributes must exist in the account; an existing contact without
 *   `updateEnabled` is 400 duplicate_parameter; with it, the contact is updated
 *   and the answer is 204 with no body; a new one is 201 {id}. An SMS number
 *   that belongs to another contact is 400 duplicate_parameter (changelog
 *   "SMS number can now be unset from a contact").
 * - Get / update a contact: https://developers.brevo.com/reference/update-contact
 *   (`/contacts/{identifier}?identifierType=email_id|phone_id|contact_id|ext_id`;
 *   without identifierType an email or a contact id; 404 document_not_found).
 * - Deals: https://developers.brevo.com/reference/create-a-deal, get-all-deals
 *   (filters[attributes.deal_name], filters[linkedContactsIds], limit, offset),
 *   update-a-deal (PATCH 204; stage moves need both `pipeline` and
 *   `deal_stage`), delete-a-deal (204; 404 when unknown), link-and-unlink-a-deal-with-contacts-and-companies (204).
 *   Deal ids are 24-hex object ids; contact ids are integers.
 * - Get your account: GET /account (an authenticated read).
 * - Rate limits: https://developers.brevo.com/docs/api-limits (General tier:
 *   /v3/contacts/* 10 RPS and 36,000 RPH; all other endpoints, CRM included,
 *   100 RPH) and https://developers.brevo.com/docs/limit-headers
 *   (`x-sib-ratelimit-limit`, `x-sib-ratelimit-remaining`,
 *   `x-sib-ratelimit-reset` in seconds; 429 without Retry-After).
 */
import { json, readJson, type VendorDouble } from "../double-kit.ts";
import { LOCAL_BREVO_KEY } from "./index.ts";
export const DOUBLE_PIPELINE_ID = "65a1f0c2e4b0a1b2c3d4e5f0";
export const DOUBLE_STAGES = {
  new: "65a1f0c2e4b0a1b2c3d4e5a1",
  won: "65a1f0c2e4b0a1b2c3d4e5a2",
  lost: "65a1f0c2e4b0a1b2c3d4e5a3",
} as const;

/** Attributes a new Brevo account has. */
const DEFAULT_ATTRIBUTES = ["EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "EXT_ID", "WHATSAPP", "LANDLINE_NUMBER"];

export interface BrevoContact {
  id: number;
  email: string | null;
  ext_id: string | null;
  attributes: Record<string, unknown>;
  createdAt: string;
  modifiedAt: string;
}

export interface BrevoDeal {
  id: string;
  attributes: Record<string, unknown>;
  linkedContactsIds: number[];
  linkedCompaniesIds: string[];
}

export interface BrevoDoubleOptions {
  /** Custom contact attributes that exist in this account (besides the defaults). */
  customAttributes?: readonly string[];
  /** Requests per second on /contacts/* (documented General tier: 10). */
  contactsPerSecond?: number;
  /** Requests per hour on every other endpoint, CRM included (documented General tier: 100). */
  otherPerHour?: number;
}

const EMAIL_RE = /^[^\s@"(),:;<>[\]\\]+@[^\s@"(),:;<>[\]\\]+\.[A-Za-z]{2,}$/;

/** Brevo's accepted SMS forms (+CC…, CC…, 00CC…) → "+digits"; null when not one of them. */
export function normaliseSms(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const v = value.replace(/[\s.-]/g, "");
  const m = /^(?:\+|00)?([1-9]\d{7,14})$/.exec(v);
  return m ? `+${m[1]}` : null;
}

const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json({ code, message }, status, headers);

/** A fixed window: `take()` tells whether a call fits and what the headers say. */
function fixedWindow(limit: number, windowMs: number) {
  let start = 0;
  let used = 0;
  return {
    take(now: number) {
      if (now - start >= windowMs) {
        start = now;
        used = 0;
      }
      const ok = used < limit;
      if (ok) used++;
      const headers = {
        "x-sib-ratelimit-limit": String(limit),
        "x-sib-ratelimit-remaining": String(Math.max(0, limit - used)),
        "x-sib-ratelimit-reset": String(Math.max(1, Math.ceil((start + windowMs - now) / 1000))),
      };
      return { ok, headers };
    },
    reset() {
      start = 0;
      used = 0;
    },
  };
}

export function createBrevoDouble(options: BrevoDoubleOptions = {}): VendorDouble {
  const known = new Set([...DEFAULT_ATTRIBUTES, ...(options.customAttributes ?? [])]);
  const contactsSecond = fixedWindow(options.contactsPerSecond ?? 10, 1_000);
  const contactsHour = fixedWindow(36_000, 3_600_000);
  const otherHour = fixedWindow(options.otherPerHour ?? 100, 3_600_000);
  let contacts: BrevoContact[] = [];
  let deals: BrevoDeal[] = [];
  let nextContactId = 1;
  let dealSeq = 1;
  const newDealId = () => `65b2${(dealSeq++).toString(16).padStart(20, "0")}`;
  const stageIds = new Set<string>(Object.values(DOUBLE_STAGES));

  const bySms = (sms: string) => contacts.find((c) => c.attributes.SMS === sms);
  const byEmail = (email: string) => contacts.find((c) => c.email === email.toLowerCase());

  function find(identifier: string, type: string | null): BrevoContact | undefined | "bad" {
    switch (type) {
      case null:
        if (/^\d+$/.test(identifier)) return contacts.find((c) => c.id === Number(identifier));
        if (identifier.includes("@")) return byEmail(identifier);
        { const sms = normaliseSms(identifier); return sms ? bySms(sms) : undefined; }
      case "email_id": return byEmail(identifier);
      case "contact_id": return /^\d+$/.test(identifier) ? contacts.find((c) => c.id === Number(identifier)) : undefined;
      case "phone_id": { const sms = normaliseSms(identifier); return sms ? bySms(sms) : undefined; }
      case "ext_id": return contacts.find((c) => c.ext_id === identifier);
      default: return "bad";
    }
  }

  /** Checks and normalises attributes; an error Response when Brevo would refuse them. */
  function checkAttributes(attrs: unknown, self: BrevoContact | undefined): Record<string, unknown> | Response {
    if (attrs === undefined) return {};
    if (!attrs || typeof attrs !== "object" || Array.isArray(attrs)) return error(400, "invalid_parameter", "attributes should be an object");
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
      if (!known.has(k)) return error(400, "invalid_parameter", `Attribute not found: ${k}`);
      if (k === "SMS") {
        const sms = normaliseSms(v);
        if (!sms) return error(400, "invalid_parameter", "Invalid phone number");
        const owner = bySms(sms);
        if (owner && owner !== self) return error(400, "duplicate_parameter", "Unable to create contact, SMS is already associated with another Contact");
        out.SMS = sms;
      } else {
        out[k] = v;
      }
    }
    return out;
  }

  async function createContact(req: Request): Promise<Response> {
    const body = await readJson(req) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return error(400, "bad_request", "Input must be a valid JSON object");
    const email = body.email;
    if (email !== undefined && (typeof email !== "string" || !EMAIL_RE.test(email))) return error(400, "invalid_parameter", "email is not valid");
    const extId = body.ext_id;
    if (extId !== undefined && typeof extId !== "string") return error(400, "invalid_parameter", "ext_id should be a string");
    const attrs = (body.attributes ?? {}) as Record<string, unknown>;
    const sms = attrs && typeof attrs === "object" && "SMS" in attrs ? normaliseSms(attrs.SMS) : null;
    if (email === undefined && extId === undefined && !(attrs && typeof attrs === "object" && "SMS" in attrs)) {
      return error(400, "missing_parameter", "email, ext_id or SMS attribute is required");
    }
    const existing = (typeof email === "string" ? byEmail(email) : undefined)
      ?? (typeof extId === "string" ? contacts.find((c) => c.ext_id === extId) : undefined)
      ?? (email === undefined && extId === undefined && sms ? bySms(sms) : undefined);
    if (existing && body.updateEnabled !== true) return error(400, "duplicate_parameter", "Contact already exist");
    const checked = checkAttributes(body.attributes, existing);
    if (checked instanceof Response) return checked;
    const now = new Date().toISOString();
    if (existing) {
      Object.assign(existing.attributes, checked);
      if (typeof extId === "string") existing.ext_id = extId;
      existing.modifiedAt = now;
      return new Response(null, { status: 204 });
    }
    const contact: BrevoContact = {
      id: nextContactId++, email: typeof email === "string" ? email.toLowerCase() : null,
      ext_id: typeof extId === "string" ? extId : null, attributes: checked, createdAt: now, modifiedAt: now,
    };
    contacts.push(contact);
    return json({ id: contact.id }, 201);
  }

  async function updateContact(contact: BrevoContact, req: Request): Promise<Response> {
    const body = await readJson(req) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return error(400, "bad_request", "Input must be a valid JSON object");
    const checked = checkAttributes(body.attributes, contact);
    if (checked instanceof Response) return checked;
    if (typeof checked.EMAIL === "string") {
      if (!EMAIL_RE.test(checked.EMAIL)) return error(400, "invalid_parameter", "email is not valid");
      const other = byEmail(checked.EMAIL);
      if (other && other !== contact) return error(400, "duplicate_parameter", "Contact already exist");
      contact.email = checked.EMAIL.toLowerCase();
      delete checked.EMAIL;
    }
    Object.assign(contact.attributes, checked);
    if (typeof body.ext_id === "string") contact.ext_id = body.ext_id;
    contact.modifiedAt = new Date().toISOString();
    return new Response(null, { status: 204 });
  }

  function contactView(c: BrevoContact) {
    return {
      id: c.id, email: c.email ?? undefined, emailBlacklisted: false, smsBlacklisted: false, createdAt: c.createdAt,
      modifiedAt: c.modifiedAt, listIds: [], attributes: { ...c.attributes, ...(c.ext_id ? { EXT_ID: c.ext_id } : {}) }, statistics: {},
    };
  }

  /** Deal attributes: amount numeric; pipeline/stage known; both on a stage move (update). */
  function checkDealAttributes(attrs: unknown, update: boolean): Record<string, unknown> | Response {
    if (attrs === undefined) return {};
    if (!attrs || typeof attrs !== "object" || Array.isArray(attrs)) return error(400, "invalid_parameter", "attributes should be an object");
    const a = attrs as Record<string, unknown>;
    if (a.amount !== undefined && (typeof a.amount !== "number" || !Number.isFinite(a.amount))) return error(400, "invalid_parameter", "amount should be a number");
    if (a.pipeline !== undefined && a.pipeline !== DOUBLE_PIPELINE_ID) return error(400, "invalid_parameter", "Invalid pipeline id");
    if (a.deal_stage !== undefined && !stageIds.has(a.deal_stage as string)) return error(400, "invalid_parameter", "Invalid deal stage id");
    if (update && a.deal_stage !== undefined && a.pipeline === undefined) return error(400, "invalid_parameter", "pipeline is required to update deal_stage");
    return { ...a };
  }

  function checkContactIds(ids: unknown): number[] | Response {
    if (ids === undefined) return [];
    if (!Array.isArray(ids) || !ids.every((i) => Number.isInteger(i))) return error(400, "invalid_parameter", "contact ids should be an array of integers");
    for (const id of ids) if (!contacts.some((c) => c.id === id)) return error(400, "invalid_parameter", `Contact id ${id} not found`);
    return ids as number[];
  }

  async function createDeal(req: Request): Promise<Response> {
    const body = await readJson(req) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return error(400, "bad_request", "Input must be a valid JSON object");
    if (typeof body.name !== "string" || body.name.trim() === "") return error(400, "missing_parameter", "name is required");
    const attrs = checkDealAttributes(body.attributes, false);
    if (attrs instanceof Response) return attrs;
    const linked = checkContactIds(body.linkedContactsIds);
    if (linked instanceof Response) return linked;
    const deal: BrevoDeal = {
      id: newDealId(),
      attributes: { pipeline: DOUBLE_PIPELINE_ID, deal_stage: DOUBLE_STAGES.new, ...attrs, deal_name: body.name },
      linkedContactsIds: [...new Set(linked)],
      linkedCompaniesIds: [],
    };
    deals.push(deal);
    return json({ id: deal.id }, 201);
  }

  async function updateDeal(deal: BrevoDeal, req: Request): Promise<Response> {
    const body = await readJson(req) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return error(400, "bad_request", "Input must be a valid JSON object");
    if (body.name !== undefined && (typeof body.name !== "string" || body.name.trim() === "")) return error(400, "invalid_parameter", "name should be a non-empty string");
    const attrs = checkDealAttributes(body.attributes, true);
    if (attrs instanceof Response) return attrs;
    if (body.linkedContactsIds !== undefined) {
      const linked = checkContactIds(body.linkedContactsIds);
      if (linked instanceof Response) return linked;
      deal.linkedContactsIds = [...new Set(linked)]; // documented: PATCH replaces the list
    }
    Object.assign(deal.attributes, attrs);
    if (typeof body.name === "string") deal.attributes.deal_name = body.name;
    return new Response(null, { status: 204 });
  }

  async function linkUnlink(deal: BrevoDeal, req: Request): Promise<Response> {
    const body = await readJson(req) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return error(400, "bad_request", "Input must be a valid JSON object");
    const link = checkContactIds(body.linkContactIds);
    if (link instanceof Response) return link;
    const unlink = checkContactIds(body.unlinkContactIds);
    if (unlink instanceof Response) return unlink;
    deal.linkedContactsIds = [...new Set([...deal.linkedContactsIds, ...link])].filter((id) => !unlink.includes(id));
    return new Response(null, { status: 204 });
  }

  function listDeals(url: URL): Response {
    const name = url.searchParams.get("filters[attributes.deal_name]");
    const contact = url.searchParams.get("filters[linkedContactsIds]");
    const limit = Number(url.searchParams.get("limit") ?? 50);
    const offset = Number(url.searchParams.get("offset") ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) return error(400, "invalid_parameter", "limit and offset should be non-negative integers");
    let items = deals.filter((d) => (name === null || d.attributes.deal_name === name)
      && (contact === null || d.linkedContactsIds.includes(Number(contact))));
    items = url.searchParams.get("sort") === "asc" ? items : [...items].reverse(); // default: newest first
    return json({ items: items.slice(offset, offset + limit) });
  }

  async function route(req: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const m = req.method;
    if (path === "/account" && m === "GET") {
      return json({ email: "sandbox@example.fr", firstName: "Sandbox", lastName: "Brevo", companyName: "Local double", plan: [{ type: "free", credits: 300, creditsType: "sendLimit" }] });
    }
    if (path === "/contacts" && m === "POST") return createContact(req);
    const contactPath = /^\/contacts\/([^/]+)$/.exec(path);
    if (contactPath && (m === "GET" || m === "PUT")) {
      const found = find(decodeURIComponent(contactPath[1]), url.searchParams.get("identifierType"));
      if (found === "bad") return error(400, "invalid_parameter", "identifierType is not valid");
      if (!found) return error(404, "document_not_found", "Contact does not exist");
      return m === "GET" ? json(contactView(found)) : updateContact(found, req);
    }
    if (path === "/crm/pipeline/details/all" && m === "GET") {
      return json([{ pipeline: DOUBLE_PIPELINE_ID, pipeline_name: "Default pipeline", stages: Object.entries(DOUBLE_STAGES).map(([name, id]) => ({ id, name })) }]);
    }
    if (path === "/crm/deals" && m === "POST") return createDeal(req);
    if (path === "/crm/deals" && m === "GET") return listDeals(url);
    const link = /^\/crm\/deals\/link-unlink\/([^/]+)$/.exec(path);
    if (link && m === "PATCH") {
      const deal = deals.find((d) => d.id === link[1]);
      return deal ? linkUnlink(deal, req) : error(404, "document_not_found", "Deal not found");
    }
    const dealPath = /^\/crm\/deals\/([^/]+)$/.exec(path);
    if (dealPath && (m === "GET" || m === "PATCH" || m === "DELETE")) {
      const deal = deals.find((d) => d.id === dealPath[1]);
      if (!deal) return error(404, "document_not_found", "Deal not found");
      if (m === "DELETE") {
        deals = deals.filter((d) => d !== deal);
        return new Response(null, { status: 204 });
      }
      return m === "GET" ? json(deal) : updateDeal(deal, req);
    }
    return error(404, "document_not_found", `No route ${m} ${path}`);
  }

  return {
    name: "brevo",
    async handle(req) {
      const url = new URL(req.url);
      if (req.headers.get("api-key") !== LOCAL_BREVO_KEY) return error(401, "unauthorized", "Key not found");
      const now = Date.now();
      let limit: { ok: boolean; headers: Record<string, string> };
      if (url.pathname === "/contacts" || url.pathname.startsWith("/contacts/")) {
        const hour = contactsHour.take(now);
        const second = contactsSecond.take(now);
        limit = !hour.ok ? hour : second;
      } else {
        limit = otherHour.take(now);
      }
      if (!limit.ok) return json({ code: "too_many_requests", message: "Too many requests" }, 429, limit.headers);
      const res = await route(req, url);
      for (const [k, v] of Object.entries(limit.headers)) res.headers.set(k, v);
      return res;
    },
    state: () => ({ contacts: structuredClone(contacts), deals: structuredClone(deals) }),
    reset() {
      contacts = [];
      deals = [];
      nextContactId = 1;
      dealSeq = 1;
      contactsSecond.reset();
      contactsHour.reset();
      otherHour.reset();
    },
  };
}
