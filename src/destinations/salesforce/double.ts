/**
 * A Salesforce org's REST API on loopback, as its documentation describes it:
 * - OAuth 2.0 client-credentials flow: POST /services/oauth2/token, form-encoded
 *   grant_type=client_credentials, client_id, client_secret → 200 {access_token,
 *   signature, scope, instance_url, id, token_type:"Bearer", issued_at} (no expires_in).
 *   Errors are 400 {error, error_description}: unknown client id → invalid_client_id
 *   "client identifier invalid"; wrong secret → invalid_client "invalid client
 *   credentials"; no run-as user → invalid_grant "no client credentials user enabled";
 *   another grant type → unsupported_grant_type.
 *   https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm ,
 *   https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm
 * - Data calls need `Authorization: Bearer <token>`; a missing, unknown or expired
 *   token → 401 [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
 *   Tokens live `tokenTtlMs` after their last use (the org's session timeout,
 *   extended by activity; default 2 h), or until POST /_sandbox/expire-tokens.
 * - Errors are the REST API's array [{message, errorCode, fields}]; statuses as in
 *   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 * - Upsert by external id, PATCH /services/data/vXX.X/sobjects/{Lead|Opportunity}/{field}/{value}
 *   (https://developer.salesforce.com/docs/platform/api-rest/guide/dome-upsert.html ,
 *   resources_sobject_upsert.htm): no record with that value → created, 201
 *   {id, success, errors:[], created:true}; one → updated, 200 {…, created:false}
 *   (204 without body before v46.0); several → 300 with the list of the matching
 *   records' URLs, nothing written. A field that is not an external id field of the
 *   object → 404 NOT_FOUND. Body: unknown field → 400 INVALID_FIELD; the external id
 *   field in the body → 400 INVALID_FIELD; required fields missing on create (Lead:
 *   LastName, Company; Opportunity: Name, StageName, CloseDate) or nulled on update →
 *   400 REQUIRED_FIELD_MISSING with `fields`; too long → STRING_TOO_LONG; a bad email →
 *   INVALID_EMAIL_ADDRESS; a StageName outside the stage picklist →
 *   INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST; bad date/number → JSON_PARSER_ERROR.
 *   Standard fields and lengths: Lead and Opportunity in the Object Reference.
 * - GET /services/data/vXX.X/limits (resources_limits.htm) and
 *   GET …/sobjects/{Lead|Opportunity}/describe (fields with name, type, length, externalId, unique).
 * - The org's API request allocation is a rolling 24 hours (default 15,000: a
 *   Developer Edition org); every data answer carries `Sforce-Limit-Info: api-usage=n/max`
 *   (headers_api_usage.htm); past it → 403 [{"message":"TotalRequests Limit exceeded.",
 *   "errorCode":"REQUEST_LIMIT_EXCEEDED"}] (salesforce_app_limits_platform_api.htm).
 *   Token requests do not count.
 * Sandbox control (not Salesforce's API):
 *   POST /_sandbox/expire-tokens                          every issued token becomes invalid
 *   POST /_sandbox/limits {"dailyLimit"?, "used"?}       the allocation and its usage
 *   POST /_sandbox/duplicate {"sobject", "value"}        a second record with the same external id
 *                                                        (what an import does when the field is not Unique)
 */
import { json, readJson, type VendorDouble } from "../double-kit.ts";
import { DEFAULT_EXTERNAL_ID_FIELD, LOCAL_SALESFORCE_CLIENT_ID, LOCAL_SALESFORCE_CLIENT_SECRET } from "./index.ts";

type SObjectName = "Lead" | "Opportunity";

interface FieldDef {
  type: "string" | "email" | "phone" | "textarea" | "picklist" | "currency" | "date" | "id";
  length?: number;
  required?: boolean;
  readOnly?: boolean;
  externalId?: boolean;
}

export interface StoredRecord {
  Id: string;
  fields: Record<string, string | number | null>;
  CreatedDate: string;
  LastModifiedDate: string;
}

export interface SalesforceDoubleOptions {
  clientId?: string;
  clientSecret?: string;
  /** false: the app's client-credentials flow has no run-as user. */
  runAsUser?: boolean;
  /** Session timeout, extended by use. */
  tokenTtlMs?: number;
  dailyLimit?: number;
  /** The external id fields the admin created (API name per object); none: the setup was not done. */
  externalIdFields?: Partial<Record<SObjectName, string[]>>;
}

const STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Perception Analysis",
  "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"];

const STANDARD: Record<SObjectName, Record<string, FieldDef>> = {
  Lead: {
    Id: { type: "id", readOnly: true },
    FirstName: { type: "string", length: 40 },
    LastName: { type: "string", length: 80, required: true },
    Company: { type: "string", length: 255, required: true },
    Email: { type: "email", length: 80 },
    Phone: { type: "phone", length: 40 },
    MobilePhone: { type: "phone", length: 40 },
    Title: { type: "string", length: 128 },
    Street: { type: "textarea", length: 255 },
    City: { type: "string", length: 40 },
    State: { type: "string", length: 80 },
    PostalCode: { type: "string", length: 20 },
    Country: { type: "string", length: 80 },
    LeadSource: { type: "picklist", length: 255 },
    Status: { type: "picklist", length: 255 },
    Description: { type: "textarea", length: 32_000 },
  },
  Opportunity: {
    Id: { type: "id", readOnly: true },
    Name: { type: "string", length: 120, required: true },
    StageName: { type: "picklist", length: 255, required: true },
    CloseDate: { type: "date", required: true },
    Amount: { type: "currency" },
    LeadSource: { type: "picklist", length: 255 },
    NextStep: { type: "string", length: 255 },
    Description: { type: "textarea", length: 32_000 },
  },
};
const PREFIX: Record<SObjectName, string> = { Lead: "00Q", Opportunity: "006" };
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DAY = 24 * 3600_000;

class Refused extends Error {
  constructor(readonly status: number, readonly errorCode: string, message: string, readonly fields: string[] = []) {
    super(message);
  }
}

const sfError = (status: number, errorCode: string, message: string, fields?: string[], headers: Record<string, string> = {}) =>
  json([{ message, errorCode, ...(fields ? { fields } : {}) }], status, headers);

export function createSalesforceDouble(opts: SalesforceDoubleOptions = {}): VendorDouble {
  const clientId = opts.clientId ?? LOCAL_SALESFORCE_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? LOCAL_SALESFORCE_CLIENT_SECRET;
  const ttl = opts.tokenTtlMs ?? 2 * 3600_000;
  const extIds: Record<SObjectName, string[]> = {
    Lead: opts.externalIdFields?.Lead ?? [DEFAULT_EXTERNAL_ID_FIELD],
    Opportunity: opts.externalIdFields?.Opportunity ?? [DEFAULT_EXTERNAL_ID_FIELD],
  };
  const defaultLimit = opts.dailyLimit ?? 15_000;

  let tokens = new Map<string, number>(); // token → last use
  let records: Record<SObjectName, StoredRecord[]> = { Lead: [], Opportunity: [] };
  let seq = 0;
  let dailyLimit = defaultLimit;
  let calls: number[] = []; // data calls in the rolling 24 h
  let extraUsed = 0;

  const fieldsOf = (o: SObjectName): Record<string, FieldDef> => ({
    ...STANDARD[o],
    ...Object.fromEntries(extIds[o].map((f) => [f, { type: "string", length: 255, externalId: true } as FieldDef])),
  });
  const newId = (o: SObjectName) => `${PREFIX[o]}5g00000${String(++seq).padStart(5, "0")}AAA`;
  const used = (now: number) => {
    calls = calls.filter((t) => t > now - DAY);
    return calls.length + extraUsed;
  };
  const usageHeader = (now: number) => ({ "sforce-limit-info": `api-usage=${used(now)}/${dailyLimit}` });

  function token(form: URLSearchParams): Response {
    const grant = form.get("grant_type");
    if (grant !== "client_credentials") return json({ error: "unsupported_grant_type", error_description: "grant type not supported" }, 400);
    if (form.get("client_id") !== clientId) return json({ error: "invalid_client_id", error_description: "client identifier invalid" }, 400);
    if (form.get("client_secret") !== clientSecret) return json({ error: "invalid_client", error_description: "invalid client credentials" }, 400);
    if (opts.runAsUser === false) return json({ error: "invalid_grant", error_description: "no client credentials user enabled" }, 400);
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    const access = `00D5g000000SBOX!${btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "")}`;
    const now = Date.now();
    tokens.set(access, now);
    return json({
      access_token: access, signature: btoa("sandbox-signature"), scope: "api", instance_url: "https://sandbox.my.salesforce.com",
      id: "https://login.salesforce.com/id/00D5g000000SBOXEAA/0055g000000SBOXAAA", token_type: "Bearer", issued_at: String(now),
    });
  }

  /** The body's fields, checked as Salesforce does; `current` for an update. */
  function validate(o: SObjectName, extField: string, body: unknown, current?: StoredRecord): Record<string, string | number | null> {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new Refused(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
    const defs = fieldsOf(o);
    const out: Record<string, string | number | null> = {};
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (name === "attributes") continue;
      const def = defs[name];
      if (!def) throw new Refused(400, "INVALID_FIELD", `No such column '${name}' on sobject of type ${o}`);
      if (name === extField) throw new Refused(400, "INVALID_FIELD", `The external ID field ${name} can't be set in the request body of an upsert by that field`, [name]);
      if (def.readOnly) throw new Refused(400, "INVALID_FIELD_FOR_INSERT_UPDATE", `Unable to create/update fields: ${name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, [name]);
      if (value === null) {
        out[name] = null;
        continue;
      }
      if (def.type === "currency") {
        if (typeof value !== "number" || !Number.isFinite(value)) throw new Refused(400, "JSON_PARSER_ERROR", `Cannot deserialize instance of currency from VALUE_STRING value ${JSON.stringify(value)} or request may be missing a required field`);
        out[name] = value;
        continue;
      }
      if (typeof value !== "string") throw new Refused(400, "JSON_PARSER_ERROR", `Cannot deserialize instance of ${def.type} from ${typeof value} value ${JSON.stringify(value)}`);
      if (def.type === "date" && (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value)))) {
        throw new Refused(400, "JSON_PARSER_ERROR", `Cannot deserialize instance of date from VALUE_STRING value ${value} or request may be missing a required field`);
      }
      if (def.length && value.length > def.length) throw new Refused(400, "STRING_TOO_LONG", `${name}: data value too large: ${value.slice(0, 40)}... (max length=${def.length})`, [name]);
      if (def.type === "email" && !EMAIL.test(value)) throw new Refused(400, "INVALID_EMAIL_ADDRESS", `Email: invalid email address: ${value}`, [name]);
      if (o === "Opportunity" && name === "StageName" && !STAGES.includes(value)) {
        throw new Refused(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", `Stage: bad value for restricted picklist field: ${value}`, [name]);
      }
      out[name] = value;
    }
    const missing = Object.entries(defs).filter(([name, def]) => def.required && (current ? out[name] === null : out[name] === undefined || out[name] === null)).map(([n]) => n);
    if (missing.length) throw new Refused(400, "REQUIRED_FIELD_MISSING", `Required fields are missing: [${missing.join(", ")}]`, missing);
    return out;
  }

  function upsert(version: number, o: SObjectName, extField: string, value: string, body: unknown): Response {
    const now = new Date().toISOString();
    const matches = records[o].filter((r) => r.fields[extField] === value);
    if (matches.length > 1) return json(matches.map((r) => `/services/data/v${version}.0/sobjects/${o}/${r.Id}`), 300);
    if (matches.length === 1) {
      const record = matches[0];
      Object.assign(record.fields, validate(o, extField, body, record));
      record.LastModifiedDate = now;
      return version >= 46 ? json({ id: record.Id, success: true, errors: [], created: false }, 200) : new Response(null, { status: 204 });
    }
    const fields = validate(o, extField, body);
    const record: StoredRecord = { Id: newId(o), fields: { ...fields, [extField]: value }, CreatedDate: now, LastModifiedDate: now };
    records[o].push(record);
    return json({ id: record.Id, success: true, errors: [], ...(version >= 46 ? { created: true } : {}) }, 201);
  }

  function describe(o: SObjectName): Response {
    return json({
      name: o, label: o, createable: true, updateable: true, keyPrefix: PREFIX[o],
      fields: Object.entries(fieldsOf(o)).map(([name, def]) => ({
        name, type: def.type, length: def.length ?? 0, externalId: def.externalId === true, unique: def.externalId === true,
        nillable: !def.required, createable: !def.readOnly, updateable: !def.readOnly,
      })),
    });
  }

  async function data(req: Request, url: URL, now: number): Promise<Response> {
    const auth = req.headers.get("authorization") ?? "";
    const given = /^Bearer (\S+)$/.exec(auth)?.[1];
    const last = given ? tokens.get(given) : undefined;
    if (last === undefined || now - last > ttl) {
      if (given) tokens.delete(given);
      return sfError(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    tokens.set(given!, now);
    const m = /^\/services\/data\/v(\d+)\.0(\/.*)?$/.exec(url.pathname);
    const version = m ? Number(m[1]) : 0;
    if (!m || version < 31 || version > 66) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    if (used(now) >= dailyLimit) return sfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", undefined, usageHeader(now));
    calls.push(now);
    const headers = usageHeader(now);
    const withUsage = (res: Response) => {
      for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
      return res;
    };
    const rest = m[2] ?? "/";
    try {
      if (req.method === "GET" && rest === "/limits") {
        return withUsage(json({
          DailyApiRequests: { Max: dailyLimit, Remaining: Math.max(0, dailyLimit - used(now)) },
          DailyBulkApiBatches: { Max: 15_000, Remaining: 15_000 },
          DataStorageMB: { Max: 5, Remaining: 5 },
        }));
      }
      const desc = /^\/sobjects\/(Lead|Opportunity)\/describe$/.exec(rest);
      if (req.method === "GET" && desc) return withUsage(describe(desc[1] as SObjectName));
      const ups = /^\/sobjects\/([A-Za-z_]+)\/([A-Za-z0-9_]+)\/([^/]+)$/.exec(rest);
      if (ups && req.method === "PATCH") {
        const o = ups[1] as SObjectName;
        if (!(o in STANDARD)) return withUsage(sfError(404, "NOT_FOUND", "The requested resource does not exist"));
        if (!extIds[o].includes(ups[2])) return withUsage(sfError(404, "NOT_FOUND", `Provided external ID field does not exist or is not accessible: ${ups[2]}`));
        const body = await readJson(req);
        if (body === undefined) return withUsage(sfError(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON value"));
        return withUsage(upsert(version, o, ups[2], decodeURIComponent(ups[3]), body));
      }
      return withUsage(sfError(404, "NOT_FOUND", "The requested resource does not exist"));
    } catch (err) {
      if (err instanceof Refused) return withUsage(sfError(err.status, err.errorCode, err.message, err.fields));
      throw err;
    }
  }

  return {
    name: "salesforce",
    async handle(req) {
      const url = new URL(req.url);
      const now = Date.now();
      if (url.pathname === "/services/oauth2/token") {
        if (req.method !== "POST") return json({ error: "invalid_request", error_description: "must use HTTP POST" }, 400);
        const type = req.headers.get("content-type") ?? "";
        if (!type.startsWith("application/x-www-form-urlencoded")) return json({ error: "invalid_request", error_description: "invalid content type" }, 400);
        return token(new URLSearchParams(await req.text()));
      }
      if (url.pathname.startsWith("/_sandbox/") && req.method === "POST") {
        const body = (await readJson(req)) as Record<string, unknown> | undefined;
        if (url.pathname === "/_sandbox/expire-tokens") {
          tokens = new Map();
          return json({ expired: true });
        }
        if (url.pathname === "/_sandbox/limits") {
          if (typeof body?.dailyLimit === "number") dailyLimit = body.dailyLimit;
          if (typeof body?.used === "number") {
            calls = [];
            extraUsed = body.used;
          }
          return json({ dailyLimit, used: used(now) });
        }
        if (url.pathname === "/_sandbox/duplicate") {
          const o = body?.sobject as SObjectName;
          const value = body?.value;
          const field = typeof body?.field === "string" ? body.field : extIds[o]?.[0];
          const original = records[o]?.find((r) => r.fields[field] === value);
          if (!original) return json({ error: "no record with that external id" }, 404);
          const copy: StoredRecord = { ...structuredClone(original), Id: newId(o) };
          records[o].push(copy);
          return json({ id: copy.Id });
        }
      }
      if (url.pathname.startsWith("/services/data/")) return data(req, url, now);
      return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    },
    state: () => structuredClone({ leads: records.Lead, opportunities: records.Opportunity }),
    reset() {
      tokens = new Map();
      records = { Lead: [], Opportunity: [] };
      seq = 0;
      dailyLimit = defaultLimit;
      calls = [];
      extraUsed = 0;
    },
  };
}
