/**
 * Salesforce (issue 14), REST API with an OAuth 2.0 client-credentials token
 * (./token.ts: cached per isolate, refreshed once on 401 INVALID_SESSION_ID).
 * Per event (docs/destinations/salesforce.md):
 * - lead.upserted, callback.created: PATCH /services/data/<v>/sobjects/Lead/<ext id field>/<lovable_lead_id>;
 * - request.upserted: the same for the customer's Lead (keyed by lovable_request_id),
 *   then PATCH …/sobjects/Opportunity/<ext id field>/<lovable_request_id>
 *   (unless SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD=none).
 * Upsert by external id is the dedup: a retry, a restart between the two calls
 * or a later snapshot updates the one record that id names (201 created, 200 or
 * 204 updated); no remote id is needed (the ids are remembered for the operator).
 * Answers: 300 (several records share the id) → dead; 403 REQUEST_LIMIT_EXCEEDED
 * → throttled for an hour (rolling 24-h allocation); 401 after one refresh →
 * pause; 404 on an upsert (no such external id field) and permission 403s →
 * pause; other 4xx → dead; 5xx/network → retry.
 */
import { PAYMENT_STATUSES, type PaymentStatus } from "../../validation/enums.ts";
import { call, classifyStatus, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import type { AttemptOutcome, DestinationCheck, DestinationContext, DestinationModule, RateLimit } from "../types.ts";
import { DEFAULT_OPPORTUNITY_STAGES, leadFields, opportunityFields, requestLeadFields, type SObjectBody } from "./mapping.ts";
import { accessToken, requestToken } from "./token.ts";

export { clearSalesforceTokens } from "./token.ts";

export interface SalesforceSettings {
  /** The org's My Domain URL (no trailing slash). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** "v62.0" */
  apiVersion: string;
  leadExternalIdField: string;
  /** null: requests update the Lead only. */
  opportunityExternalIdField: string | null;
  stages: Readonly<Record<PaymentStatus, string>>;
  rateLimit?: RateLimit;
}

export const DEFAULT_API_VERSION = "v62.0";
export const DEFAULT_EXTERNAL_ID_FIELD = "Lovable_Id__c";
export const LOCAL_SALESFORCE_CLIENT_ID = "3MVG9local.sandbox.consumer.key";
export const LOCAL_SALESFORCE_CLIENT_SECRET = "local-sandbox-consumer-secret";
/** The rolling 24-h allocation gives no reset time: look again after this. */
export const REQUEST_LIMIT_WAIT_MS = 3600_000;
/** REQUEST_LIMIT_EXCEEDED for too many concurrent long (≥ 20 s) requests: a short wait. */
export const CONCURRENT_LIMIT_WAIT_MS = 30_000;
/** No per-second limit, a daily allocation (≥ 15,000 calls in a Developer org, 100,000 + per licence otherwise). */
export const DEFAULT_SALESFORCE_RATE: RateLimit = { perSecond: 5, burst: 10 };
/** Token, Lead upsert, (401) token again, Lead upsert again, Opportunity upsert. */
const MAX_CALLS = 5;

const VARS = ["SALESFORCE_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"] as const;
const OTHER_VARS = ["SALESFORCE_API_VERSION", "SALESFORCE_LEAD_EXTERNAL_ID_FIELD", "SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD", "SALESFORCE_OPPORTUNITY_STAGES", "SALESFORCE_RATE_LIMIT"];
const CUSTOM_FIELD = /^[A-Za-z][A-Za-z0-9_]*__c$/;

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`SALESFORCE_URL: "${value}" is not a URL (give the org's My Domain URL, e.g. https://acme.my.salesforce.com)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("SALESFORCE_URL must be an https URL (the org's My Domain URL)");
  if (url.search || url.hash) throw new Error("SALESFORCE_URL must not have a query or fragment");
  if (/^(login|test)\.salesforce\.com$/i.test(url.hostname)) {
    throw new Error("SALESFORCE_URL must be the org's My Domain URL (e.g. https://acme.my.salesforce.com): the client-credentials flow is not supported on login.salesforce.com or test.salesforce.com");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/services(\/|$)/.test(path)) throw new Error("SALESFORCE_URL must be the base URL, without /services/…");
  return `${url.origin}${path}`;
}

function parseStages(raw: string | undefined): Record<PaymentStatus, string> {
  const stages = { ...DEFAULT_OPPORTUNITY_STAGES };
  if (!raw?.trim()) return stages;
  for (const pair of raw.split(",")) {
    const i = pair.indexOf(":");
    const key = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    if (i === -1 || !PAYMENT_STATUSES.includes(key as PaymentStatus) || !value) {
      throw new Error(`SALESFORCE_OPPORTUNITY_STAGES: "${pair.trim()}" is not <payment status>:<stage name> (payment statuses: ${PAYMENT_STATUSES.join(", ")})`);
    }
    stages[key as PaymentStatus] = value;
  }
  return stages;
}

function field(env: Record<string, string | undefined>, name: string, allowNone: boolean): string | null {
  const value = env[name]?.trim() || DEFAULT_EXTERNAL_ID_FIELD;
  if (allowNone && value.toLowerCase() === "none") return null;
  if (!CUSTOM_FIELD.test(value)) throw new Error(`${name}: "${value}" is not the API name of a custom field (e.g. ${DEFAULT_EXTERNAL_ID_FIELD})${allowNone ? ', or "none"' : ""}`);
  return value;
}

export function salesforceSettings(env: Record<string, string | undefined>): SalesforceSettings | undefined {
  const given = Object.fromEntries(VARS.map((v) => [v, env[v]?.trim() ?? ""])) as Record<(typeof VARS)[number], string>;
  if (VARS.every((v) => !given[v])) {
    const stray = OTHER_VARS.find((v) => env[v]?.trim());
    if (stray) throw new Error(`${stray} is set but SALESFORCE_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET are not: set them to enable Salesforce, or unset it`);
    return undefined;
  }
  const missing = VARS.filter((v) => !given[v]);
  if (missing.length) throw new Error(`${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set: Salesforce needs SALESFORCE_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET`);
  for (const v of ["SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"] as const) {
    if (/[\s\u0000-\u001f\u007f]/.test(given[v])) throw new Error(`${v} must not contain spaces or control characters`);
  }
  const rawVersion = env.SALESFORCE_API_VERSION?.trim() || DEFAULT_API_VERSION;
  const version = /^v?(\d{2,3})\.0$/.exec(rawVersion);
  if (!version || Number(version[1]) < 46) throw new Error(`SALESFORCE_API_VERSION: "${rawVersion}" is not a REST API version from v46.0 on (e.g. ${DEFAULT_API_VERSION})`);
  const settings: SalesforceSettings = {
    url: parseUrl(given.SALESFORCE_URL),
    clientId: given.SALESFORCE_CLIENT_ID,
    clientSecret: given.SALESFORCE_CLIENT_SECRET,
    apiVersion: `v${version[1]}.0`,
    leadExternalIdField: field(env, "SALESFORCE_LEAD_EXTERNAL_ID_FIELD", false)!,
    opportunityExternalIdField: field(env, "SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD", true),
    stages: parseStages(env.SALESFORCE_OPPORTUNITY_STAGES),
  };
  const rate = env.SALESFORCE_RATE_LIMIT?.trim();
  if (rate) {
    const n = Number(rate);
    if (!/^\d+(\.\d+)?$/.test(rate) || !(n > 0) || n > 1000) throw new Error(`SALESFORCE_RATE_LIMIT must be a number of deliveries per second in (0, 1000], e.g. "5" (got "${rate}")`);
    settings.rateLimit = { perSecond: n, burst: Math.max(1, Math.floor(n * 2)) };
  }
  return settings;
}

// ---------------------------------------------------------------- answers

interface SalesforceError {
  message?: unknown;
  errorCode?: unknown;
  fields?: unknown;
}

/** The REST API's error array `[{message, errorCode, fields}]`, read leniently. */
export function salesforceErrors(text: string): { code: string; message: string }[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }
  const list = Array.isArray(body) ? body : body && typeof body === "object" ? [body] : [];
  return (list as SalesforceError[]).filter((e) => e && typeof e === "object").map((e) => {
    const fields = Array.isArray(e.fields) && e.fields.length ? ` [${e.fields.join(", ")}]` : "";
    return { code: typeof e.errorCode === "string" ? e.errorCode : "", message: `${typeof e.message === "string" ? e.message : ""}${fields}` };
  });
}

const PERMISSION_CODES = new Set(["API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED", "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "FUNCTIONALITY_NOT_ENABLED"]);

/** A data call's non-2xx answer (`what`: "PATCH Lead/Lovable_Id__c"), as Salesforce documents it (errorcodes.htm). 401 is the caller's. */
export function classifySalesforce(res: Response, text: string, what: string, now = Date.now()): AttemptOutcome {
  const errors = salesforceErrors(text);
  const excerpt = excerptOf(text);
  const said = errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  const st = res.status;
  const error = `${what}: HTTP ${st}${said ? ` ${said}` : excerpt ? ` ${excerpt.slice(0, 300)}` : ""}`;
  const codes = new Set(errors.map((e) => e.code));
  if (st === 300) {
    let count = 0;
    try {
      const list = JSON.parse(text);
      count = Array.isArray(list) ? list.length : 0;
    } catch { /* count unknown */ }
    return { kind: "dead", httpStatus: st, excerpt, error: `${what}: HTTP 300 Multiple Choices — ${count || "several"} Salesforce records carry this external id; merge them (or make the field Unique), then retry this delivery` };
  }
  if (st === 403 && codes.has("REQUEST_LIMIT_EXCEEDED")) {
    if (/concurrent/i.test(said)) return { kind: "retry", httpStatus: st, error: `${error} (too many long-running requests at once)`, retryAfterMs: CONCURRENT_LIMIT_WAIT_MS, excerpt };
    const usage = res.headers.get("sforce-limit-info");
    return {
      kind: "throttled", httpStatus: st, excerpt, resumeAt: now + REQUEST_LIMIT_WAIT_MS,
      error: `${error} — the org's 24-hour API allocation is spent${usage ? ` (${usage})` : ""}; calls resume as the window rolls on`,
    };
  }
  if (st === 403 && [...codes].some((c) => PERMISSION_CODES.has(c))) {
    return { kind: "pause", httpStatus: st, error, excerpt, reason: `Salesforce refused the call for the run-as user (${said}): give it API access and create/edit on Lead and Opportunity (docs/destinations/salesforce.md), then resume salesforce.` };
  }
  if (st === 404 && what.startsWith("PATCH")) {
    return { kind: "pause", httpStatus: st, error, excerpt, reason: `${what} is not found (${said || "HTTP 404"}): create the external id field of docs/destinations/salesforce.md on that object, check SALESFORCE_API_VERSION and SALESFORCE_URL, then resume salesforce.` };
  }
  const common = classifyStatus(res, text, "SALESFORCE_URL");
  if (common.kind === "retry") return { ...common, error: `${what}: ${common.error}` };
  return { kind: "dead", httpStatus: st, error, excerpt };
}

// ---------------------------------------------------------------- calls

type Api = <T>(method: "GET" | "PATCH", path: string, what: string, body?: unknown) => Promise<CallResult<T>>;

/**
 * Data calls with the cached token; a 401 gets one new token (shared with the
 * other deliveries) and the call once more; a second 401 pauses the destination.
 */
function client(s: SalesforceSettings, ctx: DestinationContext): Api {
  let refreshed = false;
  return async function api<T>(method: "GET" | "PATCH", path: string, what: string, body?: unknown): Promise<CallResult<T>> {
    const first = await accessToken(s, ctx);
    if (!first.ok) return { ok: false, outcome: first.outcome, status: first.outcome.httpStatus, text: "" };
    let token = first.token;
    for (;;) {
      const headers = { authorization: `Bearer ${token}` };
      const init: RequestInit = body === undefined ? { method, headers: { ...headers, accept: "application/json" } } : jsonInit(body, headers, method);
      const url = `${s.url}/services/data/${s.apiVersion}${path}`;
      const result = await call<T>(ctx, url, { ...init, redirect: "manual" }, (res, text) => res.status === 401 ? undefined : classifySalesforce(res, text, what));
      if (result.ok || result.status !== 401) return result;
      if (refreshed) {
        const said = salesforceErrors(result.text).map((e) => `${e.code}: ${e.message}`).join("; ");
        return {
          ...result,
          outcome: { kind: "pause", httpStatus: 401, error: `${what}: HTTP 401 ${said}`, excerpt: excerptOf(result.text), reason: "Salesforce refused a freshly issued access token (credentials refused): check the app's run-as user and its API access, then resume salesforce." },
        };
      }
      refreshed = true;
      ctx.log.info("salesforce: access token refused, getting a new one", { call: what });
      const next = await accessToken(s, ctx, token);
      if (!next.ok) return { ok: false, outcome: next.outcome, status: next.outcome.httpStatus, text: "" };
      token = next.token;
    }
  };
}

interface UpsertResult {
  id?: unknown;
  created?: unknown;
}

async function upsert(api: Api, ctx: DestinationContext, sobject: "Lead" | "Opportunity", field: string, value: string, body: SObjectBody): Promise<CallResult<UpsertResult>> {
  const result = await api<UpsertResult>("PATCH", `/sobjects/${sobject}/${field}/${encodeURIComponent(value)}`, `PATCH ${sobject}/${field}`, body);
  const id = result.ok ? result.body?.id : undefined;
  if (typeof id === "string" && id && ctx.remote.get(sobject.toLowerCase()) !== id) await ctx.remote.set(sobject.toLowerCase(), id);
  return result;
}

const day = (iso: string): string => (/^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : new Date().toISOString().slice(0, 10));

export const salesforce: DestinationModule<SalesforceSettings> = {
  name: "salesforce",
  maxCallsPerDelivery: MAX_CALLS,
  settings: salesforceSettings,
  rateLimit: (s) => s.rateLimit ?? DEFAULT_SALESFORCE_RATE,

  async deliver(event, s, ctx) {
    const api = client(s, ctx);
    const d = event.data;
    if (event.type === "request.upserted") {
      const id = typeof d.lovable_request_id === "string" && d.lovable_request_id ? d.lovable_request_id : null;
      if (!id) return { kind: "dead", httpStatus: null, error: "request.upserted without lovable_request_id: no external id to upsert by" };
      const lead = await upsert(api, ctx, "Lead", s.leadExternalIdField, id, requestLeadFields(d));
      if (!lead.ok || !s.opportunityExternalIdField) return lead.ok ? delivered(lead) : lead.outcome;
      const opportunity = await upsert(api, ctx, "Opportunity", s.opportunityExternalIdField, id, opportunityFields(d, s.stages, day(event.createdAt)));
      return opportunity.ok ? delivered(opportunity) : opportunity.outcome;
    }
    const id = typeof d.lovable_lead_id === "string" && d.lovable_lead_id ? d.lovable_lead_id : null;
    if (!id) return { kind: "dead", httpStatus: null, error: `${event.type} without lovable_lead_id: no external id to upsert by` };
    const lead = await upsert(api, ctx, "Lead", s.leadExternalIdField, id, leadFields(d, event.type));
    return lead.ok ? delivered(lead) : lead.outcome;
  },

  async test(s, ctx): Promise<DestinationCheck> {
    const token = await requestToken(s, ctx);
    if (!token.ok) {
      const o = token.outcome;
      const reason = o.kind === "pause" ? o.reason : "error" in o ? o.error : "";
      if (token.credentialsRefused) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: o.httpStatus, message: reason };
      if (o.httpStatus === null) return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.url}: ${"error" in o ? o.error : ""} (check SALESFORCE_URL).` };
      return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: o.httpStatus, message: `${"error" in o ? o.error : ""} — check SALESFORCE_URL (the org's My Domain URL).` };
    }
    const get = (path: string) => ctx.fetch(`${s.url}/services/data/${s.apiVersion}${path}`, { method: "GET", headers: { authorization: `Bearer ${token.token}`, accept: "application/json" }, redirect: "manual" });
    const base = { reachable: true, credentialsAccepted: true } as const;
    let usage = "";
    try {
      // Reads only: the org's limits, then each object's fields (the external id fields of the setup).
      const limits = await get("/limits");
      const text = await limits.text();
      if (limits.status === 401) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401, message: "A token was issued, but Salesforce refused it on /limits (HTTP 401): check the run-as user's API access." };
      if (limits.status === 404) return { ok: false, ...base, httpStatus: 404, message: `Token issued, but /services/data/${s.apiVersion}/limits is not found (HTTP 404): check SALESFORCE_API_VERSION and SALESFORCE_URL.` };
      const limitErr = salesforceErrors(text);
      if (limits.status === 403 && limitErr.some((e) => e.code === "REQUEST_LIMIT_EXCEEDED")) {
        return { ok: false, ...base, httpStatus: 403, message: `Credentials accepted, but the org's 24-hour API allocation is spent (${limits.headers.get("sforce-limit-info") ?? "REQUEST_LIMIT_EXCEEDED"}).` };
      }
      if (limits.status >= 200 && limits.status < 300) {
        try {
          const daily = JSON.parse(text)?.DailyApiRequests;
          if (typeof daily?.Max === "number" && typeof daily?.Remaining === "number") usage = ` Daily API requests: ${daily.Remaining} of ${daily.Max} left.`;
        } catch { /* no usage */ }
      } else {
        usage = ` (/limits answered HTTP ${limits.status}: the run-as user lacks "View Setup and Configuration"; not needed for deliveries.)`;
      }
      const objects: Array<["Lead" | "Opportunity", string]> = [["Lead", s.leadExternalIdField]];
      if (s.opportunityExternalIdField) objects.push(["Opportunity", s.opportunityExternalIdField]);
      const problems: string[] = [];
      for (const [sobject, name] of objects) {
        const res = await get(`/sobjects/${sobject}/describe`);
        const body = await res.text();
        if (res.status !== 200) {
          problems.push(`${sobject}: describe answered HTTP ${res.status} ${salesforceErrors(body).map((e) => e.code).join(", ")} (the run-as user needs access to ${sobject})`);
          continue;
        }
        let fields: Array<{ name?: unknown; externalId?: unknown }> = [];
        try {
          fields = JSON.parse(body)?.fields ?? [];
        } catch { /* none */ }
        const f = fields.find((x) => x?.name === name);
        if (!f) problems.push(`${sobject}.${name} does not exist (create it as a Text External ID, Unique field)`);
        else if (f.externalId !== true) problems.push(`${sobject}.${name} is not marked External ID`);
      }
      if (problems.length) return { ok: false, ...base, httpStatus: 200, message: `Credentials accepted, but the setup is incomplete: ${problems.join("; ")} — see docs/destinations/salesforce.md; nothing was created.` };
      return { ok: true, ...base, httpStatus: 200, message: `Reachable, client credentials accepted, external id fields present; nothing was created.${usage}` };
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: true, httpStatus: null, message: `A token was issued, but the data API could not be reached: ${(err as Error).message}.` };
    }
  },

  localEnv: (url) => ({ SALESFORCE_URL: url, SALESFORCE_CLIENT_ID: LOCAL_SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET: LOCAL_SALESFORCE_CLIENT_SECRET }),
};
