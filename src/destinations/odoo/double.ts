/**
 * An Odoo double: the part of Odoo's external APIs the odoo destination uses, as
 * Odoo documents and implements it. Sources:
 * - External JSON-2 API (Odoo 19), https://www.odoo.com/documentation/19.0/developer/reference/external_api.html
 *   (odoo/documentation content/developer/reference/external_api.rst): `POST /json/2/<model>/<method>`,
 *   `Authorization: bearer <API key>`, `X-Odoo-Database` needed when one server hosts several
 *   databases, a JSON object of named arguments plus `ids` and `context`; 200 with the return
 *   value, else 4xx/5xx `{name, message, arguments, context, debug}` (401 "Invalid apikey").
 * - Its controller, odoo/odoo addons/web/controllers/json2.py: POST only (405), a JSON body
 *   (400 otherwise), unknown model or method → 404 werkzeug NotFound, `ids` given to an
 *   @api.model method or arguments that do not bind to the signature → 422; a returned
 *   recordset becomes its ids; exceptions answer their `http_status` (odoo/exceptions.py:
 *   UserError/ValidationError 422, AccessError/AccessDenied 403, MissingError 404,
 *   LockError 409), any other exception 500.
 * - The deprecated RPC API (same page, "Migrating from XML-RPC / JSON-RPC"; Odoo ≤ 18 Web
 *   Services howto): `POST /jsonrpc` `{"jsonrpc":"2.0","method":"call","params":{service, method, args}}`,
 *   common.authenticate(db, login, password, env) / common.login → uid or false,
 *   object.execute_kw(db, uid, password, model, method, args, kwargs) where a record method
 *   takes its ids as args[0]; errors are HTTP 200 `{"error":{code:200, message:"Odoo Server Error",
 *   data:{name, message, arguments, context, debug}}}` (odoo/http.py JsonRPCDispatcher).
 * - The ORM (reference/backend/orm): search_read(domain, fields, offset, limit, order),
 *   search_count(domain, limit), create(vals_list), write(vals), read(fields); domains in
 *   prefix notation ('&' implicit, '|', '!') with the operators `=`, `!=`, `in`, `not in`,
 *   `ilike` (a substring LIKE), `=ilike` (a LIKE pattern: `%`, `_` wildcards, `\` escapes);
 *   archived records (active = false) are left out unless the context says `active_test: false`;
 *   an unknown field in values or a domain raises ValueError (500); a many2one reads
 *   `[id, display_name]`.
 * - CRM (addons/crm/models/crm_lead.py): crm.lead `name` required, `type` lead|opportunity
 *   whose default is "lead" only when the database uses leads (crm.group_use_lead);
 *   action_set_won moves to the won stage with probability 100 (unarchiving);
 *   action_set_lost(**values) archives with probability 0. res.partner: "Contacts require a name".
 *
 * Odoo documents no rate limit; `callsPerSecond` models the front proxy of a hosted instance
 * (429 with Retry-After). Odoo accepts a second partner with the same email and a second
 * crm.lead with the same name, and so does the double: `state()` shows any duplicate.
 */
import { json, readJson, slidingWindow, type VendorDouble } from "../double-kit.ts";
import { LOCAL_ODOO_API_KEY, LOCAL_ODOO_DATABASE, LOCAL_ODOO_LOGIN } from "./index.ts";

export interface OdooDoubleOptions {
  apiKey?: string;
  login?: string;
  /** The databases the server hosts; with several, JSON-2 needs X-Odoo-Database. */
  databases?: string[];
  /** crm.group_use_lead: a crm.lead created without `type` is a "lead" (else an opportunity). */
  useLeads?: boolean;
  /** false: an Odoo before 19 (no /json/2; only /jsonrpc). */
  json2?: boolean;
  /** The front proxy's limit (429 with Retry-After past it). */
  callsPerSecond?: number;
}

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };
type Rec = Record<string, Value> & { id: number };

export interface Partner extends Rec { name: string; email: string | false; phone: string | false; active: boolean }
export interface Lead extends Rec {
  name: string; type: "lead" | "opportunity"; partner_id: number | false; stage_id: number; probability: number;
  expected_revenue: number; active: boolean; description: string | false; email_from: string | false;
}

const UID = 2;

type FieldType = "char" | "html" | "float" | "integer" | "boolean" | "many2one" | "selection";
interface Field { type: FieldType; comodel?: string; selection?: string[]; readonly?: boolean }

const PARTNER_FIELDS: Record<string, Field> = {
  id: { type: "integer", readonly: true }, name: { type: "char" }, email: { type: "char" }, phone: { type: "char" },
  street: { type: "char" }, zip: { type: "char" }, city: { type: "char" }, company_name: { type: "char" },
  comment: { type: "html" }, ref: { type: "char" }, is_company: { type: "boolean" }, active: { type: "boolean" },
  type: { type: "selection", selection: ["contact", "invoice", "delivery", "other"] },
};
const LEAD_FIELDS: Record<string, Field> = {
  id: { type: "integer", readonly: true }, name: { type: "char" }, type: { type: "selection", selection: ["lead", "opportunity"] },
  partner_id: { type: "many2one", comodel: "res.partner" }, contact_name: { type: "char" }, partner_name: { type: "char" },
  email_from: { type: "char" }, phone: { type: "char" }, street: { type: "char" }, zip: { type: "char" }, city: { type: "char" },
  expected_revenue: { type: "float" }, probability: { type: "float" }, stage_id: { type: "many2one", comodel: "crm.stage" },
  active: { type: "boolean" }, description: { type: "html" }, referred: { type: "char" },
  lost_reason_id: { type: "many2one", comodel: "crm.lost.reason" },
};
const STAGES = [
  { id: 1, name: "Nouveau", sequence: 1, is_won: false },
  { id: 2, name: "Qualifié", sequence: 2, is_won: false },
  { id: 3, name: "Proposition", sequence: 3, is_won: false },
  { id: 4, name: "Gagné", sequence: 70, is_won: true },
];
const LOST_REASONS = [{ id: 1, name: "Trop cher" }];

/** An exception as Odoo raises it: its qualified name, message and HTTP status. */
class OdooException extends Error {
  constructor(readonly qualifiedName: string, message: string, readonly status: number) {
    super(message);
  }
}
const valueError = (m: string) => new OdooException("builtins.ValueError", m, 500);
const validationError = (m: string) => new OdooException("odoo.exceptions.ValidationError", m, 422);
const missingError = (model: string, ids: number[]) =>
  new OdooException("odoo.exceptions.MissingError", `Record does not exist or has been deleted.\n(Record: ${model}(${ids.join(", ")},), User: ${UID})`, 404);
const notFound = (m: string) => new OdooException("werkzeug.exceptions.NotFound", m, 404);
const unprocessable = (m: string) => new OdooException("werkzeug.exceptions.UnprocessableEntity", m, 422);

function errorBody(e: OdooException) {
  return {
    name: e.qualifiedName, message: e.message, arguments: [e.message, ...(e.qualifiedName.startsWith("werkzeug.") ? [e.status] : [])],
    context: {}, debug: `Traceback (most recent call last):\n  (double)\n${e.qualifiedName}: ${e.message}\n`,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/** A LIKE pattern (PostgreSQL: `%`, `_`, `\` escape) as an anchored, case-insensitive RegExp. */
export function likeRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) out += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    else if (c === "%") out += "[\\s\\S]*";
    else if (c === "_") out += "[\\s\\S]";
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${out}$`, "i");
}

interface Signature {
  /** Argument names, in order (JSON-RPC passes them by position). */
  params: string[];
  required: string[];
  /** @api.model: no ids. */
  model: boolean;
  /** Accepts any other keyword (**kwargs). */
  varKw?: boolean;
}

const ORM: Record<string, Signature> = {
  search_read: { params: ["domain", "fields", "offset", "limit", "order"], required: [], model: true },
  search_count: { params: ["domain", "limit"], required: [], model: true },
  read: { params: ["fields", "load"], required: [], model: false },
  create: { params: ["vals_list"], required: ["vals_list"], model: true },
  write: { params: ["vals"], required: ["vals"], model: false },
};
const MODEL_METHODS: Record<string, Record<string, Signature>> = {
  "res.partner": ORM,
  "crm.lead": {
    ...ORM,
    action_set_won: { params: [], required: [], model: false },
    action_set_lost: { params: [], required: [], model: false, varKw: true },
  },
  "res.users": { context_get: { params: [], required: [], model: true } },
};

export function createOdooDouble(options: OdooDoubleOptions = {}): VendorDouble {
  const apiKey = options.apiKey ?? LOCAL_ODOO_API_KEY;
  const login = options.login ?? LOCAL_ODOO_LOGIN;
  const databases = options.databases ?? [LOCAL_ODOO_DATABASE];
  const useLeads = options.useLeads ?? true;
  const hasJson2 = options.json2 ?? true;
  const proxy = slidingWindow(options.callsPerSecond ?? 50, 1_000);
  let partners: Partner[] = [];
  let leads: Lead[] = [];
  let nextId = { partner: 1, lead: 1 };

  const fieldsOf = (model: string) => (model === "res.partner" ? PARTNER_FIELDS : LEAD_FIELDS);
  const table = (model: string): Rec[] => (model === "res.partner" ? partners : leads);

  function displayName(model: string, id: number): string {
    if (model === "res.partner") return partners.find((p) => p.id === id)?.name ?? "";
    if (model === "crm.stage") return STAGES.find((s) => s.id === id)?.name ?? "";
    return LOST_REASONS.find((r) => r.id === id)?.name ?? "";
  }
  function exists(model: string, id: number): boolean {
    if (model === "res.partner") return partners.some((p) => p.id === id);
    if (model === "crm.stage") return STAGES.some((s) => s.id === id);
    return LOST_REASONS.some((r) => r.id === id);
  }

  /** Values checked as the ORM converts them (convert_to_cache): ValueError for what it cannot take. */
  function clean(model: string, vals: unknown): Record<string, Value> {
    if (!isObject(vals)) throw valueError(`values for ${model} must be a dictionary, got ${JSON.stringify(vals)}`);
    const fields = fieldsOf(model);
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(vals)) {
      const f = fields[k];
      if (!f || f.readonly) throw valueError(`Invalid field '${k}' in '${model}'`);
      if (v === false || v === null) {
        out[k] = f.type === "boolean" ? false : f.type === "float" || f.type === "integer" ? 0 : false;
        continue;
      }
      switch (f.type) {
        case "char": case "html":
          if (typeof v !== "string") throw valueError(`Wrong value for ${model}.${k}: ${JSON.stringify(v)}`);
          break;
        case "float": case "integer":
          if (typeof v !== "number" || !Number.isFinite(v)) throw valueError(`Wrong value for ${model}.${k}: ${JSON.stringify(v)}`);
          break;
        case "boolean":
          if (typeof v !== "boolean") throw valueError(`Wrong value for ${model}.${k}: ${JSON.stringify(v)}`);
          break;
        case "selection":
          if (typeof v !== "string" || !f.selection!.includes(v)) throw valueError(`Wrong value for ${model}.${k}: ${JSON.stringify(v)}`);
          break;
        case "many2one":
          if (!isId(v)) throw valueError(`Wrong value for ${model}.${k}: ${JSON.stringify(v)}`);
          // A foreign key to nothing: PostgreSQL refuses it, the RPC layer reports a ValidationError.
          if (!exists(f.comodel!, v)) throw validationError(`The operation cannot be completed: ${model}.${k} refers to a ${f.comodel} record that does not exist (${v}).`);
          break;
      }
      out[k] = v as Value;
    }
    return out;
  }

  function requireName(model: string, rec: Record<string, Value>) {
    if (typeof rec.name === "string" && rec.name.trim()) return;
    if (model === "res.partner") throw validationError("Contacts require a name");
    throw validationError("The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Lead (crm.lead)\nField: Opportunity (name)");
  }

  function evalDomain(model: string, domain: unknown, rec: Rec): boolean {
    if (domain === undefined || domain === null || domain === false) return true;
    if (!Array.isArray(domain)) throw valueError(`Invalid domain: ${JSON.stringify(domain)}`);
    const fields = fieldsOf(model);
    let i = 0;
    const next = (): boolean => {
      if (i >= domain.length) throw valueError(`Invalid domain: ${JSON.stringify(domain)} (an operator lacks its operands)`);
      const term = domain[i++];
      if (term === "!") return !next();
      if (term === "&" || term === "|") {
        const a = next();
        const b = next();
        return term === "&" ? a && b : a || b;
      }
      if (!Array.isArray(term) || term.length !== 3 || typeof term[0] !== "string" || typeof term[1] !== "string") {
        throw valueError(`Invalid leaf ${JSON.stringify(term)}`);
      }
      const [name, op, value] = term as [string, string, unknown];
      if (!fields[name]) throw valueError(`Invalid field ${model}.${name} in leaf ${JSON.stringify(term)}`);
      const actual = rec[name] ?? false;
      const asText = (v: unknown) => (v === false || v === null ? "" : String(v));
      switch (op) {
        case "=": return actual === value || (value === false && (actual === "" || actual === null));
        case "!=": return !(actual === value);
        case "in": case "not in": {
          if (!Array.isArray(value)) throw valueError(`Invalid leaf ${JSON.stringify(term)}: ${op} needs a list`);
          return (value as unknown[]).includes(actual) === (op === "in");
        }
        case "=ilike":
          if (typeof value !== "string") throw valueError(`Invalid leaf ${JSON.stringify(term)}`);
          return actual !== false && likeRegExp(value).test(asText(actual));
        case "ilike":
          if (typeof value !== "string") throw valueError(`Invalid leaf ${JSON.stringify(term)}`);
          return actual !== false && likeRegExp(`%${value}%`).test(asText(actual));
        default:
          throw valueError(`Invalid leaf ${JSON.stringify(term)}: operator ${JSON.stringify(op)} is not supported by the double`);
      }
    };
    const results: boolean[] = [];
    while (i < domain.length) results.push(next()); // implicit '&' between top-level terms
    return results.every(Boolean);
  }

  function search(model: string, domain: unknown, context: Record<string, unknown>, offset = 0, limit?: unknown, order?: unknown): Rec[] {
    if (order !== undefined && order !== null && order !== false && (typeof order !== "string" || !/^(\w+)( (asc|desc))?(, *\w+( (asc|desc))?)*$/i.test(order))) {
      throw valueError(`Invalid "order" specified (${JSON.stringify(order)})`);
    }
    const mentionsActive = Array.isArray(domain) && domain.some((t) => Array.isArray(t) && t[0] === "active");
    const activeOnly = "active" in fieldsOf(model) && context.active_test !== false && !mentionsActive;
    let found = table(model).filter((r) => (!activeOnly || r.active !== false) && evalDomain(model, domain, r));
    if (typeof order === "string" && /^id desc/i.test(order)) found = [...found].reverse();
    const lim = typeof limit === "number" && limit > 0 ? limit : undefined;
    return found.slice(offset, lim === undefined ? undefined : offset + lim);
  }

  function readRecord(model: string, rec: Rec, fields: unknown): Record<string, Value> {
    const all = fieldsOf(model);
    const names = Array.isArray(fields) && fields.length ? (fields as unknown[]) : Object.keys(all);
    const out: Record<string, Value> = { id: rec.id };
    for (const n of names) {
      if (typeof n !== "string" || !all[n]) throw valueError(`Invalid field '${String(n)}' on model '${model}'`);
      const f = all[n];
      const v = rec[n] ?? false;
      out[n] = f.type === "many2one" && isId(v) ? [v, displayName(f.comodel!, v)] : v;
    }
    return out;
  }

  function browse(model: string, ids: number[]): Rec[] {
    const recs = ids.map((id) => table(model).find((r) => r.id === id));
    const missing = ids.filter((_, i) => !recs[i]);
    if (missing.length) throw missingError(model, missing);
    return recs as Rec[];
  }

  function createOne(model: string, vals: unknown): number {
    const clean_ = clean(model, vals);
    if (model === "res.partner") {
      const rec = { id: nextId.partner++, name: "", email: false, phone: false, active: true, type: "contact", is_company: false, ...clean_ } as Partner;
      requireName(model, rec);
      partners.push(rec);
      return rec.id;
    }
    const rec = {
      id: nextId.lead++, name: "", type: useLeads ? "lead" : "opportunity", partner_id: false, stage_id: 1, probability: 10,
      expected_revenue: 0, active: true, description: false, email_from: false, ...clean_,
    } as Lead;
    requireName(model, rec);
    leads.push(rec);
    return rec.id;
  }

  /** One model method, as the ORM runs it. */
  function run(model: string, method: string, ids: number[], kw: Record<string, unknown>, context: Record<string, unknown>): unknown {
    switch (`${model === "res.users" ? "res.users" : "orm"}/${method}`) {
      case "res.users/context_get": return { lang: "fr_FR", tz: "Europe/Paris", uid: UID };
      case "orm/search_read":
        return search(model, kw.domain, context, typeof kw.offset === "number" ? kw.offset : 0, kw.limit, kw.order).map((r) => readRecord(model, r, kw.fields));
      case "orm/search_count": return search(model, kw.domain, context, 0, kw.limit).length;
      case "orm/read": return browse(model, ids).map((r) => readRecord(model, r, kw.fields));
      case "orm/create": {
        const single = isObject(kw.vals_list);
        const list = single ? [kw.vals_list] : kw.vals_list;
        if (!Array.isArray(list)) throw valueError(`create() expects a list of dictionaries, got ${JSON.stringify(kw.vals_list)}`);
        // One transaction: nothing is kept when one of them fails.
        const before = { partners: [...partners], leads: [...leads], nextId: { ...nextId } };
        try {
          const created = list.map((v) => createOne(model, v));
          return single ? created[0] : created;
        } catch (e) {
          partners = before.partners; leads = before.leads; nextId = before.nextId;
          throw e;
        }
      }
      case "orm/write": {
        const recs = browse(model, ids);
        const vals = clean(model, kw.vals);
        for (const r of recs) requireName(model, { ...r, ...vals });
        for (const r of recs) Object.assign(r, vals);
        return true;
      }
      case "orm/action_set_won": {
        const won = STAGES.find((s) => s.is_won)!;
        for (const r of browse(model, ids) as Lead[]) Object.assign(r, { active: true, stage_id: won.id, probability: 100 });
        return true;
      }
      case "orm/action_set_lost": {
        const recs = browse(model, ids) as Lead[];
        const { ids: _ids, ...extra } = kw;
        const vals = clean(model, extra);
        for (const r of recs) Object.assign(r, { active: false, probability: 0 }, vals);
        return true;
      }
    }
    throw notFound(`The method '${method}' does not exist on the model '${model}'`);
  }

  /** The method of `model` named `method`, or werkzeug's NotFound as get_public_method raises it. */
  function signatureOf(model: string, method: string): Signature {
    const methods = MODEL_METHODS[model];
    if (!methods) throw notFound(`the model '${model}' does not exist`);
    if (method.startsWith("_")) throw notFound(`Private methods (such as '${model}.${method}') cannot be called remotely.`);
    const sig = methods[method];
    if (!sig) throw notFound(`The method '${model}.${method}' does not exist`);
    return sig;
  }

  /** inspect.signature(func).bind(records, **kwargs): 422 when the arguments do not fit. */
  function bind(sig: Signature, model: string, method: string, ids: unknown, kw: Record<string, unknown>): number[] {
    if (ids !== undefined && !(Array.isArray(ids) && ids.every(isId)) && !isId(ids)) throw unprocessable(`ids must be a list of record ids, got ${JSON.stringify(ids)}`);
    const list = ids === undefined ? [] : Array.isArray(ids) ? (ids as number[]) : [ids as number];
    if (sig.model && list.length) throw unprocessable(`cannot call ${model}.${method} with ids`);
    for (const k of Object.keys(kw)) if (!sig.params.includes(k) && !sig.varKw) throw unprocessable(`got an unexpected keyword argument '${k}'`);
    for (const r of sig.required) if (!(r in kw)) throw unprocessable(`missing a required argument: '${r}'`);
    return list;
  }

  // ------------------------------------------------------------ JSON-2

  async function json2(req: Request, model: string, method: string): Promise<Response> {
    const db = req.headers.get("x-odoo-database");
    if ((databases.length > 1 && !db) || (db && !databases.includes(db))) return new Response("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
    const token = /^bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (token !== apiKey) {
      const e = new OdooException("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401);
      return json(errorBody(e), 401, { "www-authenticate": 'Bearer realm="odoo"' });
    }
    if (req.method !== "POST") return json(errorBody(new OdooException("werkzeug.exceptions.MethodNotAllowed", "The method is not allowed for the requested URL.", 405)), 405, { allow: "POST" });
    if (!(req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase().startsWith("application/json")) {
      return json(errorBody(new OdooException("werkzeug.exceptions.BadRequest", "Request inferred type is compatible with ['http'] but '/json/2/<model>/<method>' is type='/json/2/rpc'", 400)), 400);
    }
    const body = await readJson(req);
    if (!isObject(body)) return json(errorBody(new OdooException("werkzeug.exceptions.BadRequest", "could not parse the body, expecting a json object", 400)), 400);
    const { ids, context, ...kw } = body;
    try {
      const sig = signatureOf(model, method);
      if (context !== undefined && !isObject(context)) throw unprocessable("context must be an object");
      const list = bind(sig, model, method, ids, kw);
      return json(run(model, method, list, kw, (context ?? {}) as Record<string, unknown>) ?? null);
    } catch (e) {
      if (e instanceof OdooException) return json(errorBody(e), e.status);
      throw e;
    }
  }

  // ------------------------------------------------------------ JSON-RPC

  function rpcError(id: unknown, e: OdooException) {
    const error = e.qualifiedName === "werkzeug.exceptions.NotFound"
      ? { code: 404, message: "404: Not Found", data: errorBody(e) }
      : { code: 200, message: "Odoo Server Error", data: errorBody(e) };
    return json({ jsonrpc: "2.0", id: id ?? null, error });
  }

  function checkDb(db: unknown) {
    if (typeof db !== "string" || !databases.includes(db)) {
      throw new OdooException("psycopg2.OperationalError", `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${String(db)}" does not exist\n`, 500);
    }
  }

  function jsonrpcCall(service: unknown, method: unknown, args: unknown[]): unknown {
    if (service === "common") {
      if (method === "version") return { server_version: "17.0", server_version_info: [17, 0, 0, "final", 0, ""], server_serie: "17.0", protocol_version: 1 };
      if (method === "login" || method === "authenticate") {
        const [db, user, password] = args;
        checkDb(db);
        return user === login && password === apiKey ? UID : false;
      }
      throw new OdooException("builtins.NameError", `method ${String(method)} is not available on service common`, 500);
    }
    if (service !== "object") throw new OdooException("builtins.Exception", `No such service: ${String(service)}`, 500);
    if (method !== "execute_kw" && method !== "execute") throw new OdooException("builtins.NameError", `Method not available ${String(method)}`, 500);
    const [db, uid, password, model, name, rawArgs = [], rawKw = {}] = args as [unknown, unknown, unknown, unknown, unknown, unknown, unknown];
    checkDb(db);
    if (uid !== UID || password !== apiKey) throw new OdooException("odoo.exceptions.AccessDenied", "Access Denied", 403);
    if (typeof model !== "string" || !MODEL_METHODS[model]) throw new OdooException("builtins.KeyError", `'${String(model)}'`, 500);
    if (typeof name !== "string") throw new OdooException("builtins.TypeError", "method name must be a string", 500);
    const sig = MODEL_METHODS[model][name];
    if (!sig || name.startsWith("_")) throw new OdooException("builtins.AttributeError", `The method '${name}' does not exist on the model '${model}'`, 500);
    if (!Array.isArray(rawArgs) || !isObject(rawKw)) throw new OdooException("builtins.TypeError", "execute_kw() expects a list of arguments and a dictionary of keyword arguments", 500);
    const positional = [...rawArgs];
    const ids = sig.model ? undefined : positional.shift();
    if (!sig.model && ids === undefined) throw new OdooException("builtins.TypeError", `${model}.${name}() missing the record ids (args[0])`, 500);
    const { context, ...kw } = rawKw;
    if (positional.length > sig.params.length) throw new OdooException("builtins.TypeError", `${name}() takes ${sig.params.length + 1} positional arguments but ${positional.length + 1} were given`, 500);
    positional.forEach((v, i) => {
      if (sig.params[i] in kw) throw new OdooException("builtins.TypeError", `${name}() got multiple values for argument '${sig.params[i]}'`, 500);
      kw[sig.params[i]] = v;
    });
    let list: number[];
    try {
      list = bind(sig, model, name, ids, kw);
    } catch (e) {
      throw e instanceof OdooException ? new OdooException("builtins.TypeError", e.message, 500) : e;
    }
    return run(model, name, list, kw, isObject(context) ? context : {}) ?? null;
  }

  async function jsonrpc(req: Request): Promise<Response> {
    if (req.method !== "POST") return new Response("<!doctype html><title>405 Method Not Allowed</title>", { status: 405, headers: { "content-type": "text/html; charset=utf-8", allow: "POST" } });
    const body = await readJson(req);
    if (!isObject(body) || !isObject(body.params)) {
      return json({ jsonrpc: "2.0", id: null, error: { code: 200, message: "Odoo Server Error", data: errorBody(new OdooException("werkzeug.exceptions.BadRequest", "Invalid JSON-RPC request", 400)) } });
    }
    const { service, method, args } = body.params as { service?: unknown; method?: unknown; args?: unknown };
    try {
      return json({ jsonrpc: "2.0", id: body.id ?? null, result: jsonrpcCall(service, method, Array.isArray(args) ? args : []) });
    } catch (e) {
      if (e instanceof OdooException) return rpcError(body.id, e);
      throw e;
    }
  }

  return {
    name: "odoo",
    async handle(req) {
      if (!proxy.take()) return new Response("<html><body><h1>429 Too Many Requests</h1></body></html>", { status: 429, headers: { "content-type": "text/html", "retry-after": "1" } });
      const path = new URL(req.url).pathname;
      if (path === "/web/version" && req.method === "GET") {
        return json(hasJson2 ? { version_info: [19, 0, 0, "final", 0, ""], version: "19.0" } : { version_info: [17, 0, 0, "final", 0, ""], version: "17.0" });
      }
      if (path === "/jsonrpc") return jsonrpc(req);
      const m = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(path);
      if (m && hasJson2) return json2(req, decodeURIComponent(m[1]), decodeURIComponent(m[2]));
      return new Response("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
    },
    state: () => structuredClone({ partners, leads }) as unknown as Record<string, unknown[]>,
    reset() {
      partners = [];
      leads = [];
      nextId = { partner: 1, lead: 1 };
      proxy.reset();
    },
  };
}
