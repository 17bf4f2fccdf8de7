/**
 * Sellsy (issue 14's French CRM), API v2 (https://api.sellsy.com/doc/v2/),
 * OAuth2 client credentials (`POST https://login.sellsy.com/oauth2/access-tokens`),
 * the token cached per client until it expires and renewed once on a 401.
 * - lead → individual (prospect) found by email (POST /individuals/search) or created;
 * - call-back → contact found by mobile number (POST /contacts/search) or created;
 * - request → individual, or company + contact (linked) for a professionnel, then an
 *   opportunity created once (found again by its fixed name among the related
 *   object's opportunities if its creation's answer was lost) and updated with the
 *   payment status. Every remote id is remembered right after its creation.
 * Answers: docs/destinations/sellsy.md (400 dead, 401 token renewed then pause,
 * 402/403 pause, 404/409 dead, 429 retry or throttled by the quota headers, 5xx retry).
 */
import { classifyStatus, excerptOf, jsonInit, networkFailure } from "../http.ts";
import { type AttemptOutcome, busy, type DestinationCheck, type DestinationContext, type DestinationModule, type RateLimit } from "../types.ts";
import { planOf, type PersonFields } from "./mapping.ts";

export interface SellsySettings {
  apiUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  pipelineId?: number;
  stepId?: number;
  rateLimit?: RateLimit;
}

export const DEFAULT_SELLSY_API_URL = "https://api.sellsy.com/v2";
export const DEFAULT_SELLSY_TOKEN_URL = "https://login.sellsy.com/oauth2/access-tokens";
export const LOCAL_SELLSY_CLIENT_ID = "local-sandbox-sellsy-client";
export const LOCAL_SELLSY_CLIENT_SECRET = "local-sandbox-sellsy-secret";

/**
 * Sellsy's quotas: 5 requests per second per account (and 432,000 a day). A new
 * particulier request makes about 5 calls, a professionnel up to 10, an update 1–2:
 * one delivery a second, two at once, keeps a backlog near 5 calls/s.
 */
export const DEFAULT_SELLSY_RATE: RateLimit = { perSecond: 1, burst: 2 };

function url(name: string, value: string, example: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name} is not a URL, e.g. ${example}`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`${name} must be an http(s) URL, e.g. ${example}`);
  if (u.search || u.hash) throw new Error(`${name} must not have a query or fragment`);
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a Sellsy id (a positive integer), got "${value}"`);
  return n;
}

// ---------------------------------------------------------------- token

interface CachedToken { token: string; expiresAt: number }
const tokens = new Map<string, CachedToken>();
const tokenKey = (s: SellsySettings) => `${s.tokenUrl}|${s.clientId}`;

type TokenResult = { ok: true; token: string } | { ok: false; outcome: AttemptOutcome };

async function accessToken(ctx: Pick<DestinationContext, "fetch">, s: SellsySettings, renew = false): Promise<TokenResult> {
  const cached = tokens.get(tokenKey(s));
  if (!renew && cached && cached.expiresAt > Date.now() + 30_000) return { ok: true, token: cached.token };
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: s.clientId, client_secret: s.clientSecret });
  let res: Response;
  let text: string;
  try {
    res = await ctx.fetch(s.tokenUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body: form.toString(), redirect: "manual" });
    text = await res.text();
  } catch (err) {
    const f = networkFailure(err);
    return { ok: false, outcome: { ...f, error: `token: ${(f as { error: string }).error}` } as AttemptOutcome };
  }
  if (res.status === 400 || res.status === 401) {
    return {
      ok: false,
      outcome: {
        kind: "pause", httpStatus: res.status, error: `token: HTTP ${res.status} — ${excerptOf(text).slice(0, 300)}`, excerpt: excerptOf(text),
        reason: "Sellsy refused the client credentials: check SELLSY_CLIENT_ID and SELLSY_CLIENT_SECRET (an API v2 access of type private), then resume the destination.",
      },
    };
  }
  if (res.status < 200 || res.status >= 300) {
    const c = classifyStatus(res, text, "SELLSY_TOKEN_URL");
    return { ok: false, outcome: c.kind === "delivered" ? c : { ...c, error: `token: ${c.error}` } };
  }
  let body: { access_token?: unknown; expires_in?: unknown } | null = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (typeof body?.access_token !== "string" || !body.access_token) {
    return { ok: false, outcome: { kind: "retry", httpStatus: res.status, error: "token: no access_token in the answer — check SELLSY_TOKEN_URL", excerpt: excerptOf(text) } };
  }
  const ttl = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 3600;
  tokens.set(tokenKey(s), { token: body.access_token, expiresAt: Date.now() + ttl * 1000 });
  return { ok: true, token: body.access_token };
}

/** Forget cached tokens (tests). */
export function forgetSellsyTokens(): void {
  tokens.clear();
}

// ---------------------------------------------------------------- answers

interface SellsyError { error?: { code?: unknown; message?: unknown; context?: unknown; details?: unknown } }

function errorText(text: string): string {
  try {
    const e = (JSON.parse(text) as SellsyError).error;
    if (!e) return "";
    const details = e.details && typeof e.details === "object" ? ` (${Object.entries(e.details as Record<string, unknown>).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("; ")})` : "";
    return `${typeof e.message === "string" ? e.message : ""}${details}`;
  } catch {
    return "";
  }
}

/** The next 00:00 UTC, and the first day of next month, when Sellsy's daily and monthly quotas are assumed to reset. */
export function nextUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
function nextUtcMonth(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** A non-2xx answer of `what`, classified as Sellsy documents its errors and quotas. */
export function classifySellsy(res: Response, text: string, what: string, now = Date.now()): AttemptOutcome {
  const said = errorText(text);
  const excerpt = excerptOf(text);
  const error = `${what}: HTTP ${res.status}${said ? ` — ${said}` : excerpt ? ` — ${excerpt.slice(0, 300)}` : ""}`;
  const s = res.status;
  if (s === 401) return { kind: "pause", httpStatus: s, error, excerpt, reason: "Sellsy refused the access token even after renewing it (HTTP 401): check SELLSY_CLIENT_ID / SELLSY_CLIENT_SECRET, then resume." };
  if (s === 402) return { kind: "pause", httpStatus: s, error, excerpt, reason: "Sellsy: quota or plan limit reached (HTTP 402); resume the destination once the plan allows it." };
  if (s === 403) return { kind: "pause", httpStatus: s, error, excerpt, reason: "Sellsy: insufficient privileges (HTTP 403): give the API access the individuals, contacts, companies and opportunities scopes, then resume." };
  if (s === 429) {
    const left = (h: string) => res.headers.get(`x-quota-remaining-by-${h}`)?.trim();
    if (left("month") === "0") return { kind: "throttled", httpStatus: s, error: `${error} (monthly quota spent)`, resumeAt: nextUtcMonth(now), excerpt };
    if (left("day") === "0") return { kind: "throttled", httpStatus: s, error: `${error} (daily quota spent)`, resumeAt: nextUtcMidnight(now), excerpt };
    const common = classifyStatus(res, text);
    const retryAfterMs = (common.kind === "retry" ? common.retryAfterMs : undefined) ?? (left("minute") === "0" ? 60_000 : 1_000);
    return { kind: "retry", httpStatus: s, error, retryAfterMs, excerpt };
  }
  if (s === 404) return { kind: "dead", httpStatus: s, error: `${error} (deleted at Sellsy, or SELLSY_API_URL is wrong)`, excerpt };
  const common = classifyStatus(res, text, "SELLSY_API_URL");
  if (common.kind === "retry") return { ...common, error: `${what}: ${common.error}` };
  if (s >= 300 && s < 400) return common;
  return { kind: "dead", httpStatus: s, error, excerpt };
}

// ---------------------------------------------------------------- calls

type Result<T> = { ok: true; status: number; body: T; text: string } | { ok: false; outcome: AttemptOutcome };

interface Session { ctx: DestinationContext; s: SellsySettings; token: string; renewed: boolean; waits: number; last?: { status: number; text: string } }

/** Waits for the per-second quota inside one delivery (a new record needs up to 9 calls, Sellsy allows 5 a second). */
const SECOND_QUOTA_WAIT_MS = 1_000;
const MAX_SECOND_QUOTA_WAITS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api<T>(sess: Session, method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<Result<T>> {
  const what = `${method} ${path.split("?")[0]}`;
  for (;;) {
    const headers = { authorization: `Bearer ${sess.token}` };
    const init: RequestInit = body === undefined
      ? { method, headers: { accept: "application/json", ...headers }, redirect: "manual" }
      : { ...jsonInit(body, headers, method), redirect: "manual" };
    let res: Response;
    let text: string;
    try {
      res = await sess.ctx.fetch(`${sess.s.apiUrl}${path}`, init);
      text = await res.text();
    } catch (err) {
      const f = networkFailure(err);
      return { ok: false, outcome: { ...f, error: `${what}: ${(f as { error: string }).error}` } as AttemptOutcome };
    }
    if (res.status === 401 && !sess.renewed) {
      // An expired or revoked token: renew it once, then try the same call again.
      sess.renewed = true;
      const t = await accessToken(sess.ctx, sess.s, true);
      if (!t.ok) return t;
      sess.token = t.token;
      continue;
    }
    if (res.status === 429 && res.headers.get("x-quota-remaining-by-second")?.trim() === "0"
      && res.headers.get("x-quota-remaining-by-day")?.trim() !== "0" && res.headers.get("x-quota-remaining-by-month")?.trim() !== "0"
      && res.headers.get("x-quota-remaining-by-minute")?.trim() !== "0" && sess.waits < MAX_SECOND_QUOTA_WAITS) {
      // Only this second's quota is spent: wait for the next second rather than give the attempt up.
      sess.waits++;
      await sleep(SECOND_QUOTA_WAIT_MS);
      continue;
    }
    if (res.status < 200 || res.status >= 300) return { ok: false, outcome: classifySellsy(res, text, what) };
    let parsed: unknown = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    sess.last = { status: res.status, text };
    return { ok: true, status: res.status, body: parsed as T, text };
  }
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
type Step<T> = { ok: true; value: T } | { ok: false; outcome: AttemptOutcome };

function notSellsy(r: { status: number; text: string }, what: string, missing: string): AttemptOutcome {
  return { kind: "retry", httpStatus: r.status, error: `${what}: HTTP ${r.status} without ${missing} — not Sellsy's answer?`, excerpt: excerptOf(r.text) };
}

/** The first id of a search answer `{data: [{id}], pagination}`, or null. */
async function searchFirst(sess: Session, path: string, filters: Record<string, unknown>): Promise<Step<number | null>> {
  const r = await api<{ data?: { id?: unknown }[] }>(sess, "POST", `${path}?limit=1`, { filters });
  if (!r.ok) return r;
  if (!Array.isArray(r.body?.data)) return { ok: false, outcome: notSellsy(r, `POST ${path}`, "data") };
  const id = r.body.data.map((x) => x?.id).find(isId);
  return { ok: true, value: id ?? null };
}

async function create(sess: Session, path: string, body: unknown): Promise<Step<number>> {
  const r = await api<{ id?: unknown }>(sess, "POST", path, body);
  if (!r.ok) return r;
  if (!isId(r.body?.id)) return { ok: false, outcome: notSellsy(r, `POST ${path}`, "id") };
  return { ok: true, value: r.body.id };
}

/**
 * The remembered `kind`, else found by `filters`, else created; remembered at once.
 * `fresh` tells whether this attempt created it.
 */
async function ensure(
  sess: Session, kind: string, collection: string, filters: Record<string, unknown>, body: unknown,
): Promise<Step<{ id: number; fresh: boolean; known: boolean }>> {
  const known = Number(sess.ctx.remote.get(kind));
  if (isId(known)) return { ok: true, value: { id: known, fresh: false, known: true } };
  // Two records of one person delivered at once must not both create it.
  const step = await sess.ctx.exclusive(`${collection}:${JSON.stringify(filters)}`, () => findOrCreate(sess, kind, collection, filters, body));
  return step ?? { ok: false, outcome: busy(`this ${kind}`) };
}

async function findOrCreate(
  sess: Session, kind: string, collection: string, filters: Record<string, unknown>, body: unknown,
): Promise<Step<{ id: number; fresh: boolean; known: boolean }>> {
  const found = await searchFirst(sess, `${collection}/search`, filters);
  if (!found.ok) return found;
  if (found.value !== null) {
    await sess.ctx.remote.set(kind, String(found.value));
    return { ok: true, value: { id: found.value, fresh: false, known: false } };
  }
  const created = await create(sess, collection, body);
  if (!created.ok) return created;
  await sess.ctx.remote.set(kind, String(created.value));
  return { ok: true, value: { id: created.value, fresh: true, known: false } };
}

/** The opportunity pipeline and step: from the settings, else the account's first pipeline and its first step. */
const pipelineCache = new Map<string, { pipeline: number; step: number }>();
async function pipelineAndStep(sess: Session): Promise<Step<{ pipeline: number; step: number }>> {
  const { s } = sess;
  if (s.pipelineId && s.stepId) return { ok: true, value: { pipeline: s.pipelineId, step: s.stepId } };
  const key = `${s.apiUrl}|${s.clientId}|${s.pipelineId ?? ""}`;
  const cached = pipelineCache.get(key);
  if (cached) return { ok: true, value: cached };
  let pipeline = s.pipelineId;
  if (!pipeline) {
    const p = await api<{ data?: { id?: unknown }[] }>(sess, "GET", "/opportunities/pipelines?limit=1");
    if (!p.ok) return p;
    const id = p.body?.data?.[0]?.id;
    if (!isId(id)) return { ok: false, outcome: { kind: "dead", httpStatus: p.status, error: "GET /opportunities/pipelines: no opportunity pipeline in this Sellsy account (create one, or set SELLSY_PIPELINE_ID and SELLSY_STEP_ID)" } };
    pipeline = id;
  }
  const st = await api<{ data?: { id?: unknown }[] }>(sess, "GET", `/opportunities/pipelines/${pipeline}/steps?limit=1`);
  if (!st.ok) return st;
  const step = st.body?.data?.[0]?.id;
  if (!isId(step)) return { ok: false, outcome: { kind: "dead", httpStatus: st.status, error: `GET /opportunities/pipelines/${pipeline}/steps: the pipeline has no step (set SELLSY_STEP_ID)` } };
  const value = { pipeline, step };
  pipelineCache.set(key, value);
  return { ok: true, value };
}

function done(sess: Session): AttemptOutcome {
  const last = sess.last ?? { status: 200, text: "" };
  return { kind: "delivered", httpStatus: last.status, excerpt: excerptOf(last.text) };
}

async function put(sess: Session, path: string, body: unknown): Promise<AttemptOutcome | null> {
  const r = await api(sess, "PUT", path, body);
  return r.ok ? null : r.outcome;
}

/** A person's update: the note is written at creation only, so notes typed at Sellsy are kept. */
const personUpdate = (p: PersonFields & { note?: string }): PersonFields => {
  const { note: _note, ...rest } = p;
  return rest;
};

export const sellsy: DestinationModule<SellsySettings> = {
  name: "sellsy",
  // token, company search + create, contact search + create, link, opportunity search,
  // pipelines, steps, opportunity create — and one token renewal with its call again.
  maxCallsPerDelivery: 12,

  settings(env) {
    const clientId = env.SELLSY_CLIENT_ID?.trim();
    const clientSecret = env.SELLSY_CLIENT_SECRET?.trim();
    const others = ["SELLSY_API_URL", "SELLSY_TOKEN_URL", "SELLSY_PIPELINE_ID", "SELLSY_STEP_ID", "SELLSY_RATE_LIMIT"].filter((k) => env[k]?.trim());
    if (!clientId && !clientSecret) {
      if (others.length) throw new Error(`SELLSY_CLIENT_ID and SELLSY_CLIENT_SECRET are not set while ${others.join(", ")} is: set them to enable Sellsy, or unset the others`);
      return undefined;
    }
    if (!clientId) throw new Error("SELLSY_CLIENT_ID is not set while SELLSY_CLIENT_SECRET is: both come from the same Sellsy API v2 access");
    if (!clientSecret) throw new Error("SELLSY_CLIENT_SECRET is not set while SELLSY_CLIENT_ID is: both come from the same Sellsy API v2 access");
    for (const [k, v] of [["SELLSY_CLIENT_ID", clientId], ["SELLSY_CLIENT_SECRET", clientSecret]]) {
      if (/[\s\u0000-\u001f\u007f]/.test(v)) throw new Error(`${k} must not contain spaces or control characters`);
    }
    const settings: SellsySettings = {
      clientId, clientSecret,
      apiUrl: url("SELLSY_API_URL", env.SELLSY_API_URL?.trim() || DEFAULT_SELLSY_API_URL, DEFAULT_SELLSY_API_URL),
      tokenUrl: url("SELLSY_TOKEN_URL", env.SELLSY_TOKEN_URL?.trim() || DEFAULT_SELLSY_TOKEN_URL, DEFAULT_SELLSY_TOKEN_URL),
    };
    const pipeline = env.SELLSY_PIPELINE_ID?.trim();
    const step = env.SELLSY_STEP_ID?.trim();
    if (step && !pipeline) throw new Error("SELLSY_STEP_ID is set without SELLSY_PIPELINE_ID: a step belongs to a pipeline; set both");
    if (pipeline) settings.pipelineId = positiveInt("SELLSY_PIPELINE_ID", pipeline);
    if (step) settings.stepId = positiveInt("SELLSY_STEP_ID", step);
    const rate = env.SELLSY_RATE_LIMIT?.trim();
    if (rate) {
      const n = Number(rate);
      if (!/^\d+(\.\d+)?$/.test(rate) || !(n > 0) || n > 1000) throw new Error(`SELLSY_RATE_LIMIT must be a number of deliveries per second between 0 and 1000, e.g. "1" (got "${rate}")`);
      settings.rateLimit = { perSecond: n, burst: Math.max(1, Math.floor(n * 2)) };
    }
    return settings;
  },

  rateLimit: (s) => s.rateLimit ?? DEFAULT_SELLSY_RATE,

  async deliver(event, s, ctx) {
    const plan = planOf(event);
    if (!plan.ok) return { kind: "dead", httpStatus: null, error: plan.error };
    const t = await accessToken(ctx, s);
    if (!t.ok) return t.outcome;
    const sess: Session = { ctx, s, token: t.token, renewed: false, waits: 0 };

    if (plan.kind === "lead") {
      const ind = await ensure(sess, "individual", "/individuals", { email: plan.email }, { type: "prospect", ...plan.individual });
      if (!ind.ok) return ind.outcome;
      if (!ind.value.fresh) {
        const failed = await put(sess, `/individuals/${ind.value.id}`, personUpdate(plan.individual));
        if (failed) return failed;
      }
      return done(sess);
    }

    if (plan.kind === "callback") {
      const c = await ensure(sess, "contact", "/contacts", { mobile_number: plan.mobile }, plan.contact);
      if (!c.ok) return c.outcome;
      if (!c.value.fresh) {
        const failed = await put(sess, `/contacts/${c.value.id}`, personUpdate(plan.contact));
        if (failed) return failed;
      }
      return done(sess);
    }

    // request.upserted: the related object (individual, or company + contact), then the opportunity.
    let related: { type: "individual" | "company"; id: number };
    let contactIds: number[] = [];
    let relatedFresh = false;
    if (plan.company) {
      const co = await ensure(sess, "company", "/companies", { email: plan.email }, plan.company);
      if (!co.ok) return co.outcome;
      related = { type: "company", id: co.value.id };
      relatedFresh = co.value.fresh;
      const ct = await ensure(sess, "contact", "/contacts", { email: plan.email, companies: [co.value.id] }, plan.person);
      if (!ct.ok) return ct.outcome;
      contactIds = [ct.value.id];
      if (ctx.remote.get("company-contact") !== `${co.value.id}/${ct.value.id}`) {
        const link = await api(sess, "POST", `/companies/${co.value.id}/contacts/${ct.value.id}`, {});
        // 409: already linked (an earlier attempt linked them but could not remember it).
        if (!link.ok && !(link.outcome.httpStatus === 409)) return link.outcome;
        await ctx.remote.set("company-contact", `${co.value.id}/${ct.value.id}`);
      }
    } else {
      const ind = await ensure(sess, "individual", "/individuals", { email: plan.email }, { type: "prospect", ...plan.person });
      if (!ind.ok) return ind.outcome;
      related = { type: "individual", id: ind.value.id };
      relatedFresh = ind.value.fresh;
    }

    const opp = plan.opportunity;
    let oppId = Number(ctx.remote.get("opportunity"));
    if (!isId(oppId) && !relatedFresh) {
      const found = await searchFirst(sess, "/opportunities/search", { name: opp.name, related_objects: [related] });
      if (!found.ok) return found.outcome;
      if (found.value !== null) {
        oppId = found.value;
        await ctx.remote.set("opportunity", String(oppId));
      }
    }
    if (isId(oppId)) {
      const failed = await put(sess, `/opportunities/${oppId}`, { name: opp.name, status: opp.status, note: opp.note, ...(opp.amount ? { amount: opp.amount } : {}) });
      return failed ?? done(sess);
    }
    const ps = await pipelineAndStep(sess);
    if (!ps.ok) return ps.outcome;
    const created = await create(sess, "/opportunities", {
      name: opp.name, status: opp.status, note: opp.note, ...(opp.amount ? { amount: opp.amount } : {}),
      pipeline: ps.value.pipeline, step: ps.value.step, related: [related], ...(contactIds.length ? { contact_ids: contactIds } : {}),
    });
    if (!created.ok) return created.outcome;
    await ctx.remote.set("opportunity", String(created.value));
    return done(sess);
  },

  async test(s, ctx): Promise<DestinationCheck> {
    const t = await accessToken(ctx, s, true);
    if (!t.ok) {
      const o = t.outcome;
      if (o.kind === "pause") return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: o.httpStatus, message: `Sellsy refused the client credentials (HTTP ${o.httpStatus}): check SELLSY_CLIENT_ID and SELLSY_CLIENT_SECRET.` };
      if (o.httpStatus === null) return { ok: false, reachable: false, credentialsAccepted: null, httpStatus: null, message: `Cannot reach the token endpoint ${s.tokenUrl}: ${"error" in o ? o.error : ""} (check SELLSY_TOKEN_URL).` };
      return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: o.httpStatus, message: `The token endpoint answered HTTP ${o.httpStatus}: check SELLSY_TOKEN_URL.` };
    }
    // GET /scopes: the scopes of this access — one authenticated read that creates nothing.
    let res: Response;
    try {
      res = await ctx.fetch(`${s.apiUrl}/scopes`, { method: "GET", headers: { accept: "application/json", authorization: `Bearer ${t.token}` }, redirect: "manual" });
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      return { ok: false, reachable: false, credentialsAccepted: true, httpStatus: null, message: `Token obtained, but cannot reach ${s.apiUrl}: ${(err as Error).message} (check SELLSY_API_URL).` };
    }
    const st = res.status;
    if (st >= 200 && st < 300) return { ok: true, reachable: true, credentialsAccepted: true, httpStatus: st, message: "Reachable, client credentials accepted (GET /scopes); nothing was created." };
    if (st === 401 || st === 403) return { ok: false, reachable: true, credentialsAccepted: false, httpStatus: st, message: `Token obtained, but the API refused it (HTTP ${st}): check the access's scopes and SELLSY_API_URL.` };
    if (st === 404) return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: "Token obtained, but HTTP 404 for /scopes: check SELLSY_API_URL (https://api.sellsy.com/v2)." };
    return { ok: false, reachable: true, credentialsAccepted: null, httpStatus: st, message: `Token obtained, but HTTP ${st} for GET /scopes.` };
  },

  localEnv: (base) => ({
    SELLSY_API_URL: `${base}/v2`,
    SELLSY_TOKEN_URL: `${base}/oauth2/access-tokens`,
    SELLSY_CLIENT_ID: LOCAL_SELLSY_CLIENT_ID,
    SELLSY_CLIENT_SECRET: LOCAL_SELLSY_CLIENT_SECRET,
  }),
};
