/**
 * A HubSpot account's CRM v3 API on loopback, as its documentation describes it:
 * - Authentication (private app access token, `Authorization: Bearer`); otherwise 401
 *   `{status:"error", message, correlationId, category:"INVALID_AUTHENTICATION"}`.
 *   https://developers.hubspot.com/docs/api/private-apps ,
 *   https://developers.hubspot.com/docs/faq/api-error-responses (the error shape)
 * - Contacts: create, update by id, batch upsert by `idProperty: "email"` (one contact per
 *   email, updated in place; `new` says which), search; creating a contact whose email
 *   exists → 409 "Contact already exists. Existing ID: <id>" (category OBJECT_ALREADY_EXISTS);
 *   a create needs one of email/firstname/lastname.
 *   https://developers.hubspot.com/docs/api/crm/contacts ,
 *   https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
 * - Deals: create (with `associations`; deal→contact is HUBSPOT_DEFINED type 3, deal→company 5,
 *   the target must exist), update by id, search; `dealstage` must be a stage of `pipeline`
 *   (the default pipeline's internal ids), `amount` a number, `deal_currency_code` an
 *   account currency. https://developers.hubspot.com/docs/api/crm/deals ,
 *   https://developers.hubspot.com/docs/api-reference/latest/crm/associations/overview
 * - Properties: values are strings; a property the account does not have → 400
 *   VALIDATION_ERROR "Property values were not valid: [... PROPERTY_DOESNT_EXIST ...]";
 *   read-only ones → READ_ONLY_VALUE; invalid email → INVALID_EMAIL. It knows HubSpot's
 *   standard properties and the custom ones docs/destinations/hubspot.md says to create
 *   (`customProperties: false` plays an account where they were not created).
 *   GET /crm/v3/properties/{objectType} lists them.
 * - Search: POST /crm/v3/objects/{contacts|deals}/search, filterGroups (OR) of filters (AND),
 *   operators EQ, NEQ, HAS_PROPERTY, NOT_HAS_PROPERTY, IN. https://developers.hubspot.com/docs/api/crm/search
 * - Limits (https://developers.hubspot.com/docs/api/usage-details): private apps, Free/Starter,
 *   100 requests per rolling 10 seconds and a daily limit; every answer carries
 *   X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds and -Daily/-Daily-Remaining; past
 *   a limit, 429 `{status:"error", message, errorType:"RATE_LIMIT", correlationId,
 *   policyName:"TEN_SECONDLY_ROLLING"|"DAILY"}`.
 * Sandbox control (not HubSpot's API): POST /_sandbox/limits {"dailyRemaining"?, "tenSecondlyLimit"?}
 * makes it answer DAILY (dailyRemaining 0) or tightens the 10-second window.
 */
import { json, readJson, type VendorDouble } from "../double-kit.ts";
import { LOCAL_HUBSPOT_TOKEN } from "./index.ts";

type ObjectType = "contacts" | "deals";

interface StoredObject {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: false;
  associations: { contacts: string[]; companies: string[]; deals: string[] };
}

export interface HubspotDoubleOptions {
  token?: string;
  tenSecondlyLimit?: number;
  dailyLimit?: number;
  /** false: the account lacks the custom properties of the setup. */
  customProperties?: boolean;
  currencies?: string[];
}

const STANDARD: Record<ObjectType, string[]> = {
  contacts: ["email", "firstname", "lastname", "phone", "mobilephone", "zip", "city", "address", "state", "country", "company",
    "jobtitle", "website", "hs_lead_status", "lifecyclestage", "hubspot_owner_id"],
  deals: ["dealname", "dealstage", "pipeline", "amount", "closedate", "description", "deal_currency_code", "dealtype",
    "hubspot_owner_id"],
};
// As docs/destinations/hubspot.md tells the operator to create them.
const CUSTOM: Record<ObjectType, string[]> = {
  contacts: ["lovable_lead_id", "lovable_source", "lovable_service_type", "lovable_utm_source", "lovable_utm_medium", "lovable_utm_campaign"],
  deals: ["lovable_request_id", "lovable_payment_status"],
};
const READ_ONLY = ["hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"];
const DEFAULT_RETURNED: Record<ObjectType, string[]> = {
  contacts: ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
  deals: ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"],
};
const PIPELINES: Record<string, string[]> = {
  default: ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"],
};
const LEAD_STATUSES = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TEN_SECONDS = 10_000;

interface PropertyError { isValid: false; message: string; error: string; name: string; localizedErrorMessage: string }

export function createHubspotDouble(opts: HubspotDoubleOptions = {}): VendorDouble {
  const token = opts.token ?? LOCAL_HUBSPOT_TOKEN;
  const dailyLimit = opts.dailyLimit ?? 250_000;
  const currencies = opts.currencies ?? ["EUR"];
  let tenSecondlyLimit = opts.tenSecondlyLimit ?? 100;
  let dailyRemaining = dailyLimit;
  let window: number[] = [];
  let contacts: StoredObject[] = [];
  let deals: StoredObject[] = [];
  let nextContact = 1001;
  let nextDeal = 5_000_001;
  const store = (o: ObjectType) => (o === "contacts" ? contacts : deals);
  const known = (o: ObjectType) => [...STANDARD[o], ...(opts.customProperties === false ? [] : CUSTOM[o])];

  const limitHeaders = (): Record<string, string> => ({
    "x-hubspot-ratelimit-interval-milliseconds": String(TEN_SECONDS),
    "x-hubspot-ratelimit-max": String(tenSecondlyLimit),
    "x-hubspot-ratelimit-remaining": String(Math.max(0, tenSecondlyLimit - window.length)),
    "x-hubspot-ratelimit-daily": String(dailyLimit),
    "x-hubspot-ratelimit-daily-remaining": String(Math.max(0, dailyRemaining)),
  });
  const error = (status: number, category: string, message: string, extra: Record<string, unknown> = {}) =>
    json({ status: "error", message, correlationId: crypto.randomUUID(), category, ...extra }, status, limitHeaders());
  const invalid = (errors: PropertyError[]) =>
    error(400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(errors)}`);
  const propertyError = (name: string, error: string, message: string): PropertyError =>
    ({ isValid: false, message, error, name, localizedErrorMessage: message });
  const notFound = () => error(404, "OBJECT_NOT_FOUND", "resource not found");

  function validate(o: ObjectType, props: unknown, current?: Record<string, string>): PropertyError[] | string {
    if (!props || typeof props !== "object" || Array.isArray(props)) return "properties must be an object";
    const errors: PropertyError[] = [];
    const names = known(o);
    const merged = { ...current, ...(props as Record<string, unknown>) };
    for (const [name, value] of Object.entries(props as Record<string, unknown>)) {
      if (READ_ONLY.includes(name)) { errors.push(propertyError(name, "READ_ONLY_VALUE", `${name} is a read only property; its value cannot be set.`)); continue; }
      if (!names.includes(name)) { errors.push(propertyError(name, "PROPERTY_DOESNT_EXIST", `Property "${name}" does not exist`)); continue; }
      if (typeof value !== "string") { errors.push(propertyError(name, "INVALID_TYPE", `${JSON.stringify(value)} is not a string`)); continue; }
      if (value === "") continue; // clears it
      if (name === "email" && !EMAIL.test(value)) errors.push(propertyError(name, "INVALID_EMAIL", `Email address ${value} is invalid`));
      if (name === "amount" && !/^-?\d+(\.\d+)?$/.test(value)) errors.push(propertyError(name, "INVALID_FLOAT", `${value} is not a valid number`));
      if (name === "deal_currency_code" && !currencies.includes(value)) errors.push(propertyError(name, "INVALID_OPTION", `${value} was not one of the allowed options: [${currencies.join(", ")}]`));
      if (name === "hs_lead_status" && !LEAD_STATUSES.includes(value)) errors.push(propertyError(name, "INVALID_OPTION", `${value} was not one of the allowed options`));
      if (name === "pipeline" && !PIPELINES[value]) errors.push(propertyError(name, "INVALID_OPTION", `${value} is not a valid pipeline`));
    }
    if (o === "deals" && typeof merged.dealstage === "string" && merged.dealstage !== "") {
      const pipeline = typeof merged.pipeline === "string" && merged.pipeline ? merged.pipeline : "default";
      if (PIPELINES[pipeline] && !PIPELINES[pipeline].includes(merged.dealstage)) {
        errors.push(propertyError("dealstage", "INVALID_OPTION", `${merged.dealstage} is not a valid stage of pipeline ${pipeline}`));
      }
    }
    return errors;
  }

  const now = () => new Date().toISOString();
  const view = (o: ObjectType, obj: StoredObject, props?: string[]) => {
    const all: Record<string, string | null> = {
      ...obj.properties, hs_object_id: obj.id, createdate: obj.createdAt,
      [o === "contacts" ? "lastmodifieddate" : "hs_lastmodifieddate"]: obj.updatedAt,
    };
    const wanted = props && props.length ? [...new Set([...props, "hs_object_id", "createdate"])] : DEFAULT_RETURNED[o];
    const properties: Record<string, string | null> = {};
    for (const k of wanted) properties[k] = all[k] ?? null;
    return { id: obj.id, properties, createdAt: obj.createdAt, updatedAt: obj.updatedAt, archived: false };
  };
  const byEmail = (email: string) => contacts.find((c) => c.properties.email?.toLowerCase() === email.toLowerCase());

  function create(o: ObjectType, props: Record<string, string>): StoredObject {
    const t = now();
    const obj: StoredObject = {
      id: String(o === "contacts" ? nextContact++ : nextDeal++), properties: {}, createdAt: t, updatedAt: t, archived: false,
      associations: { contacts: [], companies: [], deals: [] },
    };
    apply(obj, props);
    store(o).push(obj);
    return obj;
  }
  function apply(obj: StoredObject, props: Record<string, string>) {
    for (const [k, v] of Object.entries(props)) {
      if (v === "") delete obj.properties[k];
      else obj.properties[k] = k === "email" ? v.toLowerCase() : v;
    }
    obj.updatedAt = now();
  }

  function associationsOf(o: ObjectType, raw: unknown): { to: string; kind: "contacts" | "companies" | "deals" }[] | string {
    if (raw === undefined) return [];
    if (!Array.isArray(raw)) return "associations must be an array";
    const allowed: Record<number, "contacts" | "companies" | "deals"> = o === "deals" ? { 3: "contacts", 5: "companies" } : { 4: "deals", 279: "companies" };
    const out: { to: string; kind: "contacts" | "companies" | "deals" }[] = [];
    for (const a of raw as Array<{ to?: { id?: unknown }; types?: Array<{ associationCategory?: unknown; associationTypeId?: unknown }> }>) {
      const to = a?.to?.id;
      if ((typeof to !== "string" && typeof to !== "number") || !Array.isArray(a.types) || a.types.length === 0) return "each association needs to.id and types";
      for (const t of a.types) {
        const kind = t.associationCategory === "HUBSPOT_DEFINED" ? allowed[Number(t.associationTypeId)] : undefined;
        if (!kind) return `association type ${t.associationCategory}/${t.associationTypeId} is not valid from ${o}`;
        const exists = kind === "contacts" ? contacts.some((c) => c.id === String(to)) : kind === "deals" ? deals.some((d) => d.id === String(to)) : false;
        if (!exists) return `${kind.replace(/s$/, "")} ${to} does not exist: cannot associate it`;
        out.push({ to: String(to), kind });
      }
    }
    return out;
  }

  async function createOne(o: ObjectType, req: Request): Promise<Response> {
    const body = (await readJson(req)) as { properties?: unknown; associations?: unknown } | undefined;
    if (!body || typeof body !== "object") return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1");
    const problems = validate(o, body.properties);
    if (typeof problems === "string") return error(400, "VALIDATION_ERROR", problems);
    if (problems.length) return invalid(problems);
    const props = body.properties as Record<string, string>;
    if (o === "contacts" && !props.email && !props.firstname && !props.lastname) {
      return error(400, "VALIDATION_ERROR", "A contact needs at least one of email, firstname or lastname");
    }
    if (o === "deals" && (!props.dealname || !props.dealstage)) return error(400, "VALIDATION_ERROR", "A deal needs dealname and dealstage");
    if (o === "contacts" && props.email) {
      const existing = byEmail(props.email);
      if (existing) {
        return error(409, "OBJECT_ALREADY_EXISTS", `Contact already exists. Existing ID: ${existing.id}`, {
          errors: [{ message: `A contact with email ${props.email.toLowerCase()} already exists. Existing ID: ${existing.id}`, in: "email" }],
          error: "CONTACT_EXISTS",
        });
      }
    }
    const links = associationsOf(o, body.associations);
    if (typeof links === "string") return error(400, "VALIDATION_ERROR", links);
    const obj = create(o, props);
    for (const l of links) {
      obj.associations[l.kind].push(l.to);
      const other = l.kind === "contacts" ? contacts.find((c) => c.id === l.to) : deals.find((d) => d.id === l.to);
      other?.associations[o].push(obj.id);
    }
    return json(view(o, obj, Object.keys(obj.properties)), 201, limitHeaders());
  }

  async function update(o: ObjectType, id: string, req: Request): Promise<Response> {
    const obj = store(o).find((x) => x.id === id);
    if (!obj) return notFound();
    const body = (await readJson(req)) as { properties?: unknown } | undefined;
    const problems = validate(o, body?.properties, obj.properties);
    if (typeof problems === "string") return error(400, "VALIDATION_ERROR", problems);
    if (problems.length) return invalid(problems);
    const props = body!.properties as Record<string, string>;
    if (o === "contacts" && props.email) {
      const other = byEmail(props.email);
      if (other && other.id !== obj.id) return error(409, "CONFLICT", `Contact already exists. Existing ID: ${other.id}`);
    }
    apply(obj, props);
    return json(view(o, obj, Object.keys(obj.properties)), 200, limitHeaders());
  }

  async function batchUpsert(req: Request): Promise<Response> {
    const started = now();
    const body = (await readJson(req)) as { inputs?: unknown } | undefined;
    const inputs = body?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) return error(400, "VALIDATION_ERROR", "inputs must hold 1 to 100 records");
    for (const input of inputs as Array<{ id?: unknown; idProperty?: unknown; properties?: unknown }>) {
      if (input?.idProperty !== "email") return error(400, "VALIDATION_ERROR", `idProperty must name a unique property (email); got ${JSON.stringify(input?.idProperty)}`);
      if (typeof input.id !== "string" || !EMAIL.test(input.id)) return error(400, "VALIDATION_ERROR", `Email address ${String(input.id)} is invalid`);
      const problems = validate("contacts", input.properties ?? {});
      if (typeof problems === "string") return error(400, "VALIDATION_ERROR", problems);
      if (problems.length) return invalid(problems);
      const props = (input.properties ?? {}) as Record<string, string>;
      if (props.email && props.email.toLowerCase() !== input.id.toLowerCase()) return error(400, "VALIDATION_ERROR", "properties.email differs from the id of an email upsert");
    }
    const results = (inputs as Array<{ id: string; properties?: Record<string, string> }>).map((input) => {
      const existing = byEmail(input.id);
      const props = { ...input.properties, email: input.id };
      if (existing) {
        apply(existing, props);
        return { ...view("contacts", existing, Object.keys(existing.properties)), new: false };
      }
      return { ...view("contacts", create("contacts", props), Object.keys(props)), new: true };
    });
    return json({ status: "COMPLETE", results, startedAt: started, completedAt: now() }, 200, limitHeaders());
  }

  async function search(o: ObjectType, req: Request): Promise<Response> {
    const body = (await readJson(req)) as { filterGroups?: unknown; properties?: unknown; limit?: unknown; after?: unknown } | undefined;
    if (!body || typeof body !== "object") return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1");
    const groups = (body.filterGroups ?? []) as Array<{ filters?: Array<{ propertyName?: unknown; operator?: unknown; value?: unknown; values?: unknown }> }>;
    if (!Array.isArray(groups) || groups.length > 5) return error(400, "VALIDATION_ERROR", "filterGroups: at most 5 groups");
    const names = [...known(o), "hs_object_id"];
    for (const g of groups) {
      if (!Array.isArray(g?.filters) || g.filters.length > 6) return error(400, "VALIDATION_ERROR", "each filter group holds at most 6 filters");
      for (const f of g.filters) {
        if (typeof f.propertyName !== "string" || !names.includes(f.propertyName)) return error(400, "VALIDATION_ERROR", `There was a problem with the request: unknown property ${String(f.propertyName)}`);
        if (!["EQ", "NEQ", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN"].includes(String(f.operator))) return error(400, "VALIDATION_ERROR", `Unsupported operator ${String(f.operator)}`);
      }
    }
    const limit = body.limit === undefined ? 10 : Number(body.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return error(400, "VALIDATION_ERROR", "limit must be 1 to 200");
    const valueOf = (obj: StoredObject, name: string) => (name === "hs_object_id" ? obj.id : obj.properties[name]);
    const match = (obj: StoredObject, f: { propertyName?: unknown; operator?: unknown; value?: unknown; values?: unknown }) => {
      const v = valueOf(obj, f.propertyName as string)?.toLowerCase();
      const want = f.value === undefined ? undefined : String(f.value).toLowerCase();
      switch (f.operator) {
        case "EQ": return v !== undefined && v === want;
        case "NEQ": return v !== want;
        case "HAS_PROPERTY": return v !== undefined;
        case "NOT_HAS_PROPERTY": return v === undefined;
        case "IN": return Array.isArray(f.values) && f.values.some((x) => String(x).toLowerCase() === v);
        default: return false;
      }
    };
    const hits = store(o).filter((obj) => groups.length === 0 || groups.some((g) => g.filters!.every((f) => match(obj, f))));
    const props = Array.isArray(body.properties) ? (body.properties as string[]) : undefined;
    return json({ total: hits.length, results: hits.slice(0, limit).map((h) => view(o, h, props)) }, 200, limitHeaders());
  }

  function list(o: ObjectType, url: URL): Response {
    const limit = Number(url.searchParams.get("limit") ?? "10");
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(400, "VALIDATION_ERROR", "limit must be 1 to 100");
    return json({ results: store(o).slice(0, limit).map((x) => view(o, x)) }, 200, limitHeaders());
  }

  function properties(o: ObjectType): Response {
    const results = [...known(o), ...READ_ONLY].map((name) => ({
      name, label: name, type: name === "amount" ? "number" : "string", fieldType: "text",
      hasUniqueValue: name === "email", hubspotDefined: !CUSTOM[o].includes(name),
    }));
    return json({ results }, 200, limitHeaders());
  }

  /** Counts one authenticated request against both limits; a 429 when one is spent. */
  function throttle(): Response | null {
    const t = Date.now();
    window = window.filter((x) => x > t - TEN_SECONDS);
    if (dailyRemaining <= 0) {
      return json({ status: "error", message: "You have reached your daily limit.", errorType: "RATE_LIMIT", correlationId: crypto.randomUUID(), policyName: "DAILY" }, 429, limitHeaders());
    }
    if (window.length >= tenSecondlyLimit) {
      return json({ status: "error", message: "You have reached your ten_secondly_rolling limit.", errorType: "RATE_LIMIT", correlationId: crypto.randomUUID(), policyName: "TEN_SECONDLY_ROLLING" }, 429, limitHeaders());
    }
    window.push(t);
    dailyRemaining--;
    return null;
  }

  return {
    name: "hubspot",
    async handle(req) {
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, "");
      if (req.method === "POST" && path === "/_sandbox/limits") {
        const b = (await readJson(req)) as { dailyRemaining?: unknown; tenSecondlyLimit?: unknown } | undefined;
        if (typeof b?.dailyRemaining === "number" && b.dailyRemaining >= 0) dailyRemaining = b.dailyRemaining;
        if (typeof b?.tenSecondlyLimit === "number" && b.tenSecondlyLimit > 0) tenSecondlyLimit = b.tenSecondlyLimit;
        return json({ dailyRemaining, tenSecondlyLimit });
      }
      const auth = req.headers.get("authorization") ?? "";
      if (!auth) {
        return json({ status: "error", message: "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview", correlationId: crypto.randomUUID(), category: "INVALID_AUTHENTICATION" }, 401);
      }
      if (auth !== `Bearer ${token}`) {
        return json({ status: "error", message: "The access token provided is not valid: it is expired, revoked or malformed.", correlationId: crypto.randomUUID(), category: "INVALID_AUTHENTICATION" }, 401);
      }
      const limited = throttle();
      if (limited) return limited;
      let m: RegExpExecArray | null;
      if ((m = /^\/crm\/v3\/objects\/(contacts|deals)$/.exec(path))) {
        const o = m[1] as ObjectType;
        if (req.method === "POST") return createOne(o, req);
        if (req.method === "GET") return list(o, url);
      }
      if (path === "/crm/v3/objects/contacts/batch/upsert" && req.method === "POST") return batchUpsert(req);
      if ((m = /^\/crm\/v3\/objects\/(contacts|deals)\/search$/.exec(path)) && req.method === "POST") return search(m[1] as ObjectType, req);
      if ((m = /^\/crm\/v3\/objects\/(contacts|deals)\/([^/]+)$/.exec(path))) {
        const o = m[1] as ObjectType;
        if (req.method === "PATCH") return update(o, decodeURIComponent(m[2]), req);
        if (req.method === "GET") {
          const obj = store(o).find((x) => x.id === decodeURIComponent(m![2]));
          return obj ? json(view(o, obj, Object.keys(obj.properties)), 200, limitHeaders()) : notFound();
        }
      }
      if ((m = /^\/crm\/v3\/properties\/(contacts|deals)$/.exec(path)) && req.method === "GET") return properties(m[1] as ObjectType);
      return error(404, "OBJECT_NOT_FOUND", `No route for ${req.method} ${path}`);
    },
    state: () => structuredClone({ contacts, deals }) as unknown as Record<string, unknown[]>,
    reset() {
      contacts = [];
      deals = [];
      window = [];
      dailyRemaining = dailyLimit;
      tenSecondlyLimit = opts.tenSecondlyLimit ?? 100;
    },
  };
}
