/**
 * One Odoo model-method call through either external API, its answer
 * classified as Odoo documents it:
 * - JSON-2 (Odoo 19+, `ODOO_API=json2`): `POST {ODOO_URL}/json/2/<model>/<method>`,
 *   `Authorization: bearer <ODOO_API_KEY>`, `X-Odoo-Database` when ODOO_DATABASE is
 *   set, a JSON object of named arguments plus `ids` and `context`. Success is a 200
 *   with the method's return value; an error a 4xx/5xx with
 *   `{name, message, arguments, context, debug}` — UserError/ValidationError 422,
 *   AccessError/AccessDenied 403, MissingError 404, LockError 409, an unknown model
 *   or method werkzeug's NotFound 404, a bad key 401 (external_api.rst; web/controllers/json2.py;
 *   odoo/exceptions.py `http_status`).
 * - JSON-RPC (older versions, `ODOO_API=jsonrpc`): `POST {ODOO_URL}/jsonrpc`,
 *   service "common" `authenticate(db, login, key, {})` for the uid (cached per
 *   process), then service "object" `execute_kw(db, uid, key, model, method, args, kwargs)`;
 *   errors come as HTTP 200 `{"error": {code, message, data: {name, message, arguments, debug}}}`.
 */
import { classifyStatus, excerptOf, networkFailure } from "../http.ts";
import type { AttemptOutcome, DestinationContext, RateLimit } from "../types.ts";

export type OdooApi = "json2" | "jsonrpc";

export interface OdooSettings {
  /** The instance's base URL, e.g. https://acme.odoo.com (no trailing slash). */
  url: string;
  apiKey: string;
  /** ODOO_DATABASE: sent as X-Odoo-Database (JSON-2), the `db` argument (JSON-RPC). */
  database?: string;
  api: OdooApi;
  /** ODOO_LOGIN: the user the API key belongs to (JSON-RPC only). */
  login?: string;
  /** ODOO_RATE_LIMIT (deliveries per second) when set. */
  rateLimit?: RateLimit;
}

export interface OdooCall {
  model: string;
  method: string;
  /** Record ids (methods on records: write, action_set_won…). */
  ids?: number[];
  /** Named arguments (JSON-2 sends them all by name). */
  params?: Record<string, unknown>;
  /** Names of `params` passed by position through JSON-RPC's execute_kw, in order. */
  positional?: string[];
  context?: Record<string, unknown>;
}

export type Answer<T> =
  | { ok: true; value: T; status: number; text: string }
  | { ok: false; outcome: AttemptOutcome; status: number | null; text: string };

const USER_AGENT = "monelec-crm-bridge (odoo destination)";
const DETERMINISTIC = /^builtins\.(ValueError|TypeError|KeyError|AttributeError|IndexError)$/;
const TRANSIENT = /LockError|ConcurrencyError|SerializationFailure|LockNotAvailable|DeadlockDetected|OperationalError|InterfaceError/;

interface OdooError {
  name?: unknown;
  message?: unknown;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

function odooError(text: string): { name: string; message: string } | null {
  try {
    const body = JSON.parse(text) as OdooError;
    if (body && typeof body === "object" && typeof body.name === "string") return { name: body.name, message: str(body.message) };
  } catch { /* not JSON */ }
  return null;
}

const cutMessage = (m: string) => (m.length > 300 ? `${m.slice(0, 299)}…` : m);

function credentialsPause(httpStatus: number | null, error: string, excerpt: string, s: Pick<OdooSettings, "api">): AttemptOutcome {
  const which = s.api === "jsonrpc" ? "ODOO_LOGIN / ODOO_API_KEY" : "ODOO_API_KEY";
  return {
    kind: "pause", httpStatus, error, excerpt,
    reason: `Odoo refused ${which} (${error.replace(/^[^:]*: /, "")}). API keys expire (at most 3 months): generate a new key for the integration user, set ${which}, then resume the destination.`,
  };
}

const VERSION_HINT = "Odoo older than 19 has no JSON-2 API: set ODOO_API=jsonrpc (with ODOO_DATABASE and ODOO_LOGIN)";

/** A JSON-2 error answer of `what` ("crm.lead/create"), classified as Odoo documents it. */
export function classifyJson2(res: Response, text: string, what: string): AttemptOutcome {
  const status = res.status;
  const err = odooError(text);
  const excerpt = excerptOf(text);
  const said = err ? `${err.name}${err.message ? ` — ${cutMessage(err.message)}` : ""}` : excerpt.slice(0, 300);
  const error = `${what}: HTTP ${status}${said ? ` ${said}` : ""}`;
  if (status === 401) return credentialsPause(status, error, excerpt, { api: "json2" });
  if (status === 403) {
    return { kind: "dead", httpStatus: status, excerpt, error: `${error} (access error: the API key's user lacks the rights this call needs — give it the Sales / CRM rights)` };
  }
  if (status === 404) {
    if (err?.name === "odoo.exceptions.MissingError") {
      return { kind: "dead", httpStatus: status, excerpt, error: `${error} (the remembered record was deleted in Odoo)` };
    }
    if (err) return { kind: "dead", httpStatus: status, excerpt, error: `${error} (model or method missing: is the CRM app installed? ${VERSION_HINT})` };
    return { kind: "dead", httpStatus: status, excerpt, error: `${error} (no JSON-2 endpoint here: check ODOO_URL, and ODOO_DATABASE when the server hosts several databases; ${VERSION_HINT})` };
  }
  if (status === 409) return { kind: "retry", httpStatus: status, excerpt, error: `${error} (record locked by another transaction)` };
  if (status >= 500 && err && DETERMINISTIC.test(err.name)) {
    return { kind: "dead", httpStatus: status, excerpt, error: `${error} (Odoo refused the values: a field or value this database does not know — a version or module difference)` };
  }
  const common = classifyStatus(res, text, "ODOO_URL");
  if (common.kind === "retry") return { ...common, error };
  if (status >= 300 && status < 400) return common;
  return { kind: "dead", httpStatus: status, excerpt, error };
}

/** A JSON-RPC `error` object (HTTP 200) of `what`, classified by its exception name. */
export function classifyRpcError(error: unknown, text: string, what: string): AttemptOutcome {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; data?: { name?: unknown; message?: unknown } };
  const name = str(e.data?.name);
  const message = str(e.data?.message) || str(e.message);
  const excerpt = excerptOf(text);
  const msg = `${what}: JSON-RPC error ${name || str(e.message) || "?"}${message ? ` — ${cutMessage(message)}` : ""}`;
  if (/AccessDenied$/.test(name)) return credentialsPause(200, msg, excerpt, { api: "jsonrpc" });
  if (/database ["']?[^"']*["']? does not exist/i.test(message)) {
    return { kind: "pause", httpStatus: 200, error: msg, excerpt, reason: `Odoo has no database named in ODOO_DATABASE (${cutMessage(message)}): fix ODOO_DATABASE, then resume the destination.` };
  }
  if (TRANSIENT.test(name)) return { kind: "retry", httpStatus: 200, error: msg, excerpt };
  if (/AccessError$/.test(name)) return { kind: "dead", httpStatus: 200, excerpt, error: `${msg} (access error: ODOO_LOGIN's user lacks the rights this call needs)` };
  if (/MissingError$/.test(name)) return { kind: "dead", httpStatus: 200, excerpt, error: `${msg} (the remembered record was deleted in Odoo)` };
  if (e.code === 404) return { kind: "dead", httpStatus: 200, excerpt, error: `${msg} (not found: check ODOO_URL)` };
  if (name.startsWith("odoo.exceptions.")) return { kind: "dead", httpStatus: 200, excerpt, error: msg };
  if (DETERMINISTIC.test(name)) {
    return { kind: "dead", httpStatus: 200, excerpt, error: `${msg} (model, method or field missing: is the CRM app installed? a version difference?)` };
  }
  return { kind: "retry", httpStatus: 200, error: msg, excerpt };
}

async function post(ctx: Pick<DestinationContext, "fetch">, url: string, headers: Record<string, string>, body: unknown) {
  const res = await ctx.fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json; charset=utf-8", accept: "application/json", "user-agent": USER_AGENT, ...headers },
    body: JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function notOdoo(status: number, text: string, what: string): AttemptOutcome {
  const excerpt = excerptOf(text);
  return { kind: "retry", httpStatus: status, excerpt, error: `${what}: HTTP ${status} but not Odoo's answer (not JSON) — ${excerpt.slice(0, 200)}` };
}

async function json2<T>(ctx: Pick<DestinationContext, "fetch">, s: OdooSettings, c: OdooCall): Promise<Answer<T>> {
  const what = `${c.model}/${c.method}`;
  const body: Record<string, unknown> = { ...(c.params ?? {}) };
  if (c.ids) body.ids = c.ids;
  if (c.context) body.context = c.context;
  const headers: Record<string, string> = { authorization: `bearer ${s.apiKey}` };
  if (s.database) headers["x-odoo-database"] = s.database;
  let res: Response;
  let text: string;
  try {
    ({ res, text } = await post(ctx, `${s.url}/json/2/${encodeURIComponent(c.model)}/${encodeURIComponent(c.method)}`, headers, body));
  } catch (err) {
    const outcome = networkFailure(err);
    return { ok: false, outcome: { ...outcome, error: `${what}: ${(outcome as { error: string }).error}` } as AttemptOutcome, status: null, text: "" };
  }
  if (res.status >= 200 && res.status < 300) {
    const parsed = parse(text);
    if (!parsed.ok) return { ok: false, outcome: notOdoo(res.status, text, what), status: res.status, text };
    return { ok: true, value: parsed.value as T, status: res.status, text };
  }
  return { ok: false, outcome: classifyJson2(res, text, what), status: res.status, text };
}

// ---------------------------------------------------------------- JSON-RPC

/** uid per instance, database, login and key: authenticate once per process. */
const uids = new Map<string, number>();
const uidKey = (s: OdooSettings) => JSON.stringify([s.url, s.database, s.login, s.apiKey]);
let rpcId = 0;

/** Forgets the cached uids (tests; a refused key). */
export function forgetOdooSessions(): void {
  uids.clear();
}

async function rpc<T>(ctx: Pick<DestinationContext, "fetch">, s: OdooSettings, service: string, method: string, args: unknown[], what: string): Promise<Answer<T>> {
  let res: Response;
  let text: string;
  try {
    ({ res, text } = await post(ctx, `${s.url}/jsonrpc`, {}, { jsonrpc: "2.0", method: "call", params: { service, method, args }, id: ++rpcId }));
  } catch (err) {
    const outcome = networkFailure(err);
    return { ok: false, outcome: { ...outcome, error: `${what}: ${(outcome as { error: string }).error}` } as AttemptOutcome, status: null, text: "" };
  }
  if (res.status < 200 || res.status >= 300) {
    const outcome = classifyJson2(res, text, what);
    const fixed = res.status === 404 && outcome.kind === "dead"
      ? { ...outcome, error: `${what}: HTTP 404 (no /jsonrpc endpoint at ODOO_URL: check ODOO_URL)` }
      : outcome;
    return { ok: false, outcome: fixed, status: res.status, text };
  }
  const parsed = parse(text);
  const body = parsed.ok ? (parsed.value as { result?: unknown; error?: unknown } | null) : null;
  if (!body || typeof body !== "object" || !("result" in body || "error" in body)) {
    return { ok: false, outcome: notOdoo(res.status, text, what), status: res.status, text };
  }
  if (body.error !== undefined && body.error !== null) {
    const outcome = classifyRpcError(body.error, text, what);
    if (outcome.kind === "pause") uids.delete(uidKey(s));
    return { ok: false, outcome, status: res.status, text };
  }
  return { ok: true, value: body.result as T, status: res.status, text };
}

/** The uid of ODOO_LOGIN (common.authenticate), cached; `false` from Odoo pauses the destination. */
export async function uidOf(ctx: Pick<DestinationContext, "fetch">, s: OdooSettings): Promise<Answer<number>> {
  const cached = uids.get(uidKey(s));
  if (cached !== undefined) return { ok: true, value: cached, status: 200, text: "" };
  const what = "common/authenticate";
  const answer = await rpc<unknown>(ctx, s, "common", "authenticate", [s.database, s.login, s.apiKey, {}], what);
  if (!answer.ok) return answer;
  const uid = answer.value;
  if (typeof uid === "number" && Number.isSafeInteger(uid) && uid > 0) {
    uids.set(uidKey(s), uid);
    return { ok: true, value: uid, status: answer.status, text: answer.text };
  }
  if (uid === false) {
    return { ok: false, status: answer.status, text: answer.text, outcome: credentialsPause(answer.status, `${what}: Odoo answered false (login or key refused)`, excerptOf(answer.text), { api: "jsonrpc" }) };
  }
  return { ok: false, status: answer.status, text: answer.text, outcome: notOdoo(answer.status, answer.text, what) };
}

async function jsonrpc<T>(ctx: Pick<DestinationContext, "fetch">, s: OdooSettings, c: OdooCall): Promise<Answer<T>> {
  const uid = await uidOf(ctx, s);
  if (!uid.ok) return uid;
  const named = { ...(c.params ?? {}) };
  const args: unknown[] = c.ids ? [c.ids] : [];
  for (const name of c.positional ?? []) {
    args.push(named[name]);
    delete named[name];
  }
  const kwargs: Record<string, unknown> = { ...named };
  if (c.context) kwargs.context = c.context;
  return rpc<T>(ctx, s, "object", "execute_kw", [s.database, uid.value, s.apiKey, c.model, c.method, args, kwargs], `${c.model}/${c.method}`);
}

/** One model-method call through the configured API. Never throws for HTTP or network failures. */
export function callOdoo<T>(ctx: Pick<DestinationContext, "fetch">, s: OdooSettings, c: OdooCall): Promise<Answer<T>> {
  return s.api === "jsonrpc" ? jsonrpc<T>(ctx, s, c) : json2<T>(ctx, s, c);
}
