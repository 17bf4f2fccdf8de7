/**
 * Pipedrive (CONTRACT §5), authenticated by the `x-api-token` header:
 * - the person is remembered, else found by exact email (phone for a call-back)
 *   with GET /api/v2/persons/search, else created with POST /api/v2/persons;
 * - a lead or call-back becomes a lead (POST /v1/leads, then PATCH /v1/leads/{id}),
 *   a request a deal (POST /api/v2/deals, then PATCH /api/v2/deals/{id}), both
 *   linked to the person and remembered right after their creation;
 * - a lead or deal not remembered, for a person this attempt did not create, is
 *   first looked for among the person's leads/deals (GET /v1/leads?person_id=…,
 *   GET /api/v2/deals?person_id=…) by the "[<lovable id>]" its title ends with,
 *   so an attempt cut between a creation and its remembering never duplicates it.
 * Pipedrive documents no idempotency key; this lookup stands in for one.
 * Answers: docs/destinations/pipedrive.md (401/402 pause, 429 retry or throttled,
 * other 4xx dead, 5xx retry).
 */
import { call, classifyStatus, delivered, excerptOf, jsonInit, type CallResult } from "../http.ts";
import { type AttemptOutcome, busy, type DestinationCheck, type DestinationContext, type DestinationModule, type RateLimit } from "../types.ts";
import { dealBody, leadBody, planOf, type PersonBody, type PersonKey } from "./mapping.ts";

export interface PipedriveSettings {
  apiUrl: string;
  apiToken: string;
  /** PIPEDRIVE_RATE_LIMIT (deliveries per second) when set. */
  rateLimit?: RateLimit;
}

export const DEFAULT_PIPEDRIVE_API_URL = "https://api.pipedrive.com";
export const LOCAL_PIPEDRIVE_TOKEN = "local-sandbox-pipedrive-token";

/**
 * Pipedrive's smallest api_token burst limit is 20 requests per 2-second window
 * (10/s), and its Search API 10 per 2 seconds (5/s). A delivery makes at most 3
 * calls, at most one a search: 3 deliveries a second (9 calls), 6 at once (18 ≤ 20).
 */
export const DEFAULT_PIPEDRIVE_RATE: RateLimit = { perSecond: 3, burst: 6 };

const WINDOW_SECONDS = 2;

function baseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`PIPEDRIVE_API_URL is not a URL: give the base, e.g. ${DEFAULT_PIPEDRIVE_API_URL}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("PIPEDRIVE_API_URL must be an http(s) URL");
  if (url.search || url.hash) throw new Error("PIPEDRIVE_API_URL must not have a query or fragment");
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/(v1|api\/v2)$/.test(path)) throw new Error(`PIPEDRIVE_API_URL must be the base without /v1 or /api/v2, e.g. ${DEFAULT_PIPEDRIVE_API_URL}`);
  return `${url.origin}${path}`;
}

function rateOverride(value: string): RateLimit {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 1000) {
    throw new Error(`PIPEDRIVE_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "3" (got "${value}")`);
  }
  return { perSecond: n, burst: Math.max(1, Math.floor(n * WINDOW_SECONDS)) };
}

// ---------------------------------------------------------------- answers

interface PipedriveError {
  error?: unknown;
  error_info?: unknown;
}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as PipedriveError;
    return [body?.error, body?.error_info].filter((v) => typeof v === "string" && v).join(" — ");
  } catch {
    return "";
  }
}

/** The next 00:00 UTC after `now`: when Pipedrive's daily limits reset. */
export function nextUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}

/**
 * A non-2xx answer of `what` ("POST /v1/leads"), classified as Pipedrive documents it
 * (core-api-concepts-http-status-codes, -responses, -rate-limiting).
 */
export function classifyPipedrive(res: Response, text: string, what: string, now = Date.now()): AttemptOutcome {
  const said = errorText(text);
  const excerpt = excerptOf(text);
  const error = `${what}: HTTP ${res.status}${said ? ` — ${said}` : excerpt ? ` — ${excerpt.slice(0, 300)}` : ""}`;
  const status = res.status;
  if (status === 401) {
    return { kind: "pause", httpStatus: status, error, excerpt, reason: "Pipedrive refused the API token (HTTP 401): check PIPEDRIVE_API_TOKEN, then resume the destination." };
  }
  if (status === 402) {
    return { kind: "pause", httpStatus: status, error, excerpt, reason: "The Pipedrive company account is not open (HTTP 402: trial expired or payment details missing); resume the destination once it is." };
  }
  if (status === 429) {
    const resetHeader = res.headers.get("x-ratelimit-reset");
    const reset = resetHeader === null ? Number.NaN : Number(resetHeader);
    const daily = res.headers.get("x-daily-requests-left")?.trim() === "0" || /daily|budget/i.test(said);
    if (daily || reset > 60) {
      const resumeAt = reset > 60 ? now + reset * 1000 : nextUtcMidnight(now);
      return { kind: "throttled", httpStatus: status, error: `${error} (daily limit spent until ${new Date(resumeAt).toISOString()})`, resumeAt, excerpt };
    }
    const common = classifyStatus(res, text);
    const retryAfterMs = (common.kind === "retry" ? common.retryAfterMs : undefined) ?? (reset >= 0 ? reset * 1000 : undefined);
    return { kind: "retry", httpStatus: status, error, retryAfterMs, excerpt };
  }
  if (status === 403) return { kind: "dead", httpStatus: status, error: `${error} (request not allowed, e.g. an account limit reached)`, excerpt };
  if (status === 404) return { kind: "dead", httpStatus: status, error: `${error} (not found: deleted or converted at Pipedrive, or PIPEDRIVE_API_URL is wrong)`, excerpt };
  const common = classifyStatus(res, text, "PIPEDRIVE_API_URL");
  if (common.kind === "retry") return { ...common, error: `${what}: ${common.error}` };
  if (status >= 300 && status < 400) return common;
  return { kind: "dead", httpStatus: status, error, excerpt };
}

function unexpected(result: { status: number; text: string }, what: string, missing: string): AttemptOutcome {
  const excerpt = excerptOf(result.text);
  return { kind: "retry", httpStatus: result.status, error: `${what}: HTTP ${result.status} without ${missing} — not Pipedrive's answer? ${excerpt.slice(0, 200)}`, excerpt };
}

// ---------------------------------------------------------------- calls

type Method = "GET" | "POST" | "PATCH";

function pd<T>(ctx: Pick<DestinationContext, "fetch">, s: PipedriveSettings, method: Method, path: string, body?: unknown): Promise<CallResult<T>> {
  const headers = { "x-api-token": s.apiToken };
  const init: RequestInit = body === undefined
    ? { method, headers: { accept: "application/json", ...headers }, redirect: "manual" }
    : { ...jsonInit(body, headers, method), redirect: "manual" };
  // The query (an email, a phone) stays out of the error text.
  const what = `${method} ${path.split("?")[0]}`;
  return call<T>(ctx, `${s.apiUrl}${path}`, init, (res, text) => classifyPipedrive(res, text, what));
}

interface Data<T> {
  data?: T;
}

type Step<T> = { ok: true; value: T; created: boolean } | { ok: false; outcome: AttemptOutcome };

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

async function ensurePerson(ctx: DestinationContext, s: PipedriveSettings, key: PersonKey, person: PersonBody): Promise<Step<number>> {
  const known = Number(ctx.remote.get("person"));
  if (isId(known)) return { ok: true, value: known, created: false };
  // Two records of one person (a lead, then its request) delivered at once must not both create it.
  const step = await ctx.exclusive(`person:${key.field}:${key.term}`, () => findOrCreatePerson(ctx, s, key, person));
  return step ?? { ok: false, outcome: busy("this person") };
}

async function findOrCreatePerson(ctx: DestinationContext, s: PipedriveSettings, key: PersonKey, person: PersonBody): Promise<Step<number>> {
  const query = new URLSearchParams({ term: key.term, fields: key.field, exact_match: "true", limit: "10" });
  const found = await pd<Data<{ items?: { item?: { id?: unknown } }[] }>>(ctx, s, "GET", `/api/v2/persons/search?${query}`);
  if (!found.ok) return { ok: false, outcome: found.outcome };
  const items = found.body?.data?.items;
  if (!Array.isArray(items)) return { ok: false, outcome: unexpected(found, "GET /api/v2/persons/search", "data.items") };
  const match = items.map((i) => i?.item?.id).find(isId);
  if (match !== undefined) {
    await ctx.remote.set("person", String(match));
    return { ok: true, value: match, created: false };
  }

  const created = await pd<Data<{ id?: unknown }>>(ctx, s, "POST", "/api/v2/persons", person);
  if (!created.ok) return { ok: false, outcome: created.outcome };
  const id = created.body?.data?.id;
  if (!isId(id)) return { ok: false, outcome: unexpected(created, "POST /api/v2/persons", "data.id") };
  await ctx.remote.set("person", String(id));
  return { ok: true, value: id, created: true };
}

/** Among the person's leads or deals, the one whose title carries `ref` (an earlier, unremembered creation). */
async function findByRef(
  ctx: DestinationContext, s: PipedriveSettings, object: "lead" | "deal", personId: number, ref: string,
): Promise<Step<string | undefined>> {
  const path = object === "lead" ? `/v1/leads?person_id=${personId}&limit=500` : `/api/v2/deals?person_id=${personId}&limit=500`;
  const list = await pd<Data<{ id?: unknown; title?: unknown }[] | null>>(ctx, s, "GET", path);
  if (!list.ok) return { ok: false, outcome: list.outcome };
  const data = list.body?.data;
  if (data !== null && !Array.isArray(data)) return { ok: false, outcome: unexpected(list, `GET ${path.split("?")[0]}`, "data") };
  const hit = (data ?? []).find((x) => typeof x?.title === "string" && x.title.includes(`[${ref}]`) && (isId(x.id) || (typeof x.id === "string" && x.id)));
  return { ok: true, value: hit ? String(hit.id) : undefined, created: false };
}

export const pipedrive: DestinationModule<PipedriveSettings> = {
  name: "pipedrive",
  maxCallsPerDelivery: 3,

  settings(env) {
    const apiToken = env.PIPEDRIVE_API_TOKEN?.trim();
    const url = env.PIPEDRIVE_API_URL?.trim();
    const rate = env.PIPEDRIVE_RATE_LIMIT?.trim();
    if (!apiToken) {
      if (url || rate) throw new Error("PIPEDRIVE_API_TOKEN is not set while PIPEDRIVE_API_URL or PIPEDRIVE_RATE_LIMIT is: set the token to enable Pipedrive, or unset them");
      return undefined;
    }
    if (/[\s\u0000-\u001f\u007f]/.test(apiToken)) throw new Error("PIPEDRIVE_API_TOKEN must not contain spaces or control characters");
    const settings: PipedriveSettings = { apiToken, apiUrl: baseUrl(url || DEFAULT_PIPEDRIVE_API_URL) };
    if (rate) settings.rateLimit = rateOverride(rate);
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_PIPEDRIVE_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) return { kind: "dead", httpStatus: null, error: plan.error };

    const person = await ensurePerson(ctx, s, plan.key, plan.person);
    if (!person.ok) return person.outcome;
    const personId = person.value;
    const kind = plan.object;

    let id = ctx.remote.get(kind);
    if (!id && !person.created) {
      const found = await findByRef(ctx, s, kind, personId, plan.ref);
      if (!found.ok) return found.outcome;
      if (found.value) {
        id = found.value;
        await ctx.remote.set(kind, id);
      }
    }

    const body = kind === "lead" ? leadBody(plan.title, personId) : dealBody(event.data, plan.title, personId);
    const collection = kind === "lead" ? "/v1/leads" : "/api/v2/deals";
    if (id) {
      const updated = await pd(ctx, s, "PATCH", `${collection}/${encodeURIComponent(id)}`, body);
      return updated.ok ? delivered(updated) : updated.outcome;
    }
    const created = await pd<Data<{ id?: unknown }>>(ctx, s, "POST", collection, body);
    if (!created.ok) return created.outcome;
    const newId = created.body?.data?.id;
    if (!(isId(newId) || (typeof newId === "string" && newId))) return unexpected(created, `POST ${collection}`, "data.id");
    await ctx.remote.set(kind, String(newId));
    return delivered(created);
  },

  async test(s, ctx): Promise<DestinationCheck> {
    // GET /v1/users/me: the token's own user, one cheap read that creates nothing.
    let res: Response;
    let text: string;
    try {
      res = await ctx.fetch(`${s.apiUrl}/v1/users/me`, { method: "GET", headers: { accept: "application/json", "x-api-token": s.apiToken }, redirect: "manual" });
      text = await res.text();
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach ${s.apiUrl}: ${(err as Error).message} (check PIPEDRIVE_API_URL).` };
    }
    const st = res.status;
    if (st === 401) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: "Pipedrive refused the API token (HTTP 401): check PIPEDRIVE_API_TOKEN." };
    if (st === 402) return { ok: false, reachable: true, credentialsAccepted: true, httpStatus: st, message: "Token accepted, but the Pipedrive company account is not open (HTTP 402: trial expired or payment missing)." };
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: "Reachable, but HTTP 404 for /v1/users/me: check PIPEDRIVE_API_URL." };
    if (st >= 200 && st < 300) {
      let user: { success?: unknown; data?: { id?: unknown } } | null = null;
      try { user = JSON.parse(text); } catch { /* not JSON */ }
      if (user?.success === true && isId(user.data?.id)) {
        return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: `Reachable, API token accepted (user ${user.data!.id}); nothing was created.` };
      }
      return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `HTTP ${st}, but not Pipedrive's answer for /v1/users/me: check PIPEDRIVE_API_URL.` };
    }
    return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Reachable, but HTTP ${st}${errorText(text) ? ` (${errorText(text)})` : ""}: could not tell whether PIPEDRIVE_API_TOKEN is valid.` };
  },

  localEnv: (url) => ({ PIPEDRIVE_API_URL: url, PIPEDRIVE_API_TOKEN: LOCAL_PIPEDRIVE_TOKEN }),
};
