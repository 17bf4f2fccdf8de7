/**
 * A WooCommerce double: the part of the WooCommerce REST API v3 the woocommerce
 * destination uses, as WooCommerce and the WordPress REST API document it. Sources:
 * - Authentication (developer.woocommerce.com/docs/apis/rest-api/authentication;
 *   woocommerce.github.io/woocommerce-rest-api-docs/#authentication): REST API keys
 *   (consumer key `ck_…` / secret `cs_…`, each with Read, Write or Read/Write
 *   permissions), sent over HTTPS as HTTP Basic auth (or the consumer_key /
 *   consumer_secret query parameters); WC_REST_Authentication answers
 *   `woocommerce_rest_authentication_error` 401 ("Consumer key is invalid.",
 *   "Consumer secret is invalid.", "The API key provided does not have write
 *   permissions."); without credentials the permission checks answer 401
 *   `woocommerce_rest_cannot_view` / `_cannot_create` / `_cannot_edit`.
 * - Customers (woocommerce-rest-api-docs/#customers; WC_REST_Customers_V2_Controller):
 *   list with `email`, `role` (default `customer`, or `all`), `per_page` (1–100),
 *   `page`, headers X-WP-Total / X-WP-TotalPages; create (`email` required and a valid
 *   address; an email any WordPress user already has → 400
 *   `registration-error-email-exists`; an `id` → 400 `woocommerce_rest_customer_exists`;
 *   username generated from the email); update by id (unknown id → 404
 *   `woocommerce_rest_invalid_id` "Invalid resource ID."; another user's email → 400
 *   `woocommerce_rest_customer_invalid_email`); `billing` fields; `meta_data` as
 *   `[{key, value}]`, an entry updating the meta of the same key.
 * - WordPress REST API errors (developer.wordpress.org/rest-api/using-the-rest-api/
 *   global-parameters, …/frequently-asked-questions): `{code, message, data:{status}}`;
 *   `rest_missing_callback_param` / `rest_invalid_param` 400 with `data.params`;
 *   `rest_invalid_json` 400; an unknown route → 404 `rest_no_route` "No route was found
 *   matching the URL and request method."; outside /wp-json the site's HTML 404.
 * - Rate limits: WooCommerce core sets none on the REST API v3 (the host may); the double
 *   sets none either (the kit's `throttle` fault plays a host's 429).
 *
 * `state()` holds {users}: every WordPress user, users[0] being the shop's administrator
 * (the API key's user); customers created through the API have the role `customer`.
 */
import { counter, json, type VendorDouble } from "../double-kit.ts";
import { LOCAL_WOOCOMMERCE_KEY, LOCAL_WOOCOMMERCE_SECRET } from "./index.ts";

export interface WoocommerceKey {
  key: string;
  secret: string;
  permissions: "read" | "write" | "read_write";
}

export interface WoocommerceDoubleOptions {
  keys?: WoocommerceKey[];
  adminEmail?: string;
}

export const SHOP_ADMIN_EMAIL = "admin@shop.example";

const BILLING_FIELDS = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country", "email", "phone"] as const;
const SHIPPING_FIELDS = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country", "phone"] as const;
const ROLES = ["all", "administrator", "editor", "author", "contributor", "subscriber", "customer", "shop_manager"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

interface Meta { id: number; key: string; value: unknown }
interface WpUser {
  id: number; email: string; username: string; first_name: string; last_name: string; role: string;
  date_created: string; date_modified: string; billing: Record<string, string>; shipping: Record<string, string>;
  meta_data: Meta[]; is_paying_customer: boolean;
}

class WpError extends Error {
  constructor(readonly code: string, message: string, readonly status: number, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "");
const wpJson = (body: unknown, status = 200, headers: Record<string, string> = {}) => json(body, status, { "content-type": "application/json; charset=UTF-8", ...headers });
const invalidParam = (param: string, why: string) =>
  new WpError("rest_invalid_param", `Invalid parameter(s): ${param}`, 400, { params: { [param]: why } });

function blank(fields: readonly string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, ""]));
}

function decodeBasic(header: string | null): [string, string] | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
  if (!m) return null;
  try {
    const decoded = atob(m[1]);
    const i = decoded.indexOf(":");
    return i === -1 ? null : [decoded.slice(0, i), decoded.slice(i + 1)];
  } catch {
    return null;
  }
}

export function createWoocommerceDouble(options: WoocommerceDoubleOptions = {}): VendorDouble {
  const keys = options.keys ?? [{ key: LOCAL_WOOCOMMERCE_KEY, secret: LOCAL_WOOCOMMERCE_SECRET, permissions: "read_write" }];
  const adminEmail = options.adminEmail ?? SHOP_ADMIN_EMAIL;
  let users: WpUser[] = [];
  let userId = counter(1);
  let metaId = counter(1);

  function reset() {
    userId = counter(1);
    metaId = counter(1);
    const now = stamp();
    users = [{
      id: userId(), email: adminEmail, username: "admin", first_name: "Shop", last_name: "Owner", role: "administrator",
      date_created: now, date_modified: now, billing: blank(BILLING_FIELDS), shipping: blank(SHIPPING_FIELDS), meta_data: [], is_paying_customer: false,
    }];
  }
  reset();

  const view = (u: WpUser) => ({
    id: u.id, date_created: u.date_created, date_created_gmt: u.date_created, date_modified: u.date_modified, date_modified_gmt: u.date_modified,
    email: u.email, first_name: u.first_name, last_name: u.last_name, role: u.role, username: u.username, billing: u.billing, shipping: u.shipping,
    is_paying_customer: u.is_paying_customer, avatar_url: "https://secure.gravatar.com/avatar/?s=96&d=mm&r=g",
    meta_data: u.meta_data.filter((m) => !m.key.startsWith("_")), // protected meta is not exposed
  });
  const byEmail = (e: string) => users.find((u) => u.email.toLowerCase() === e.toLowerCase());

  function stringField(body: Record<string, unknown>, field: string): string | undefined {
    const v = body[field];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw invalidParam(field, `${field} is not of type string.`);
    return v;
  }

  function address(body: Record<string, unknown>, field: "billing" | "shipping"): Record<string, string> | undefined {
    const v = body[field];
    if (v === undefined) return undefined;
    if (!isObject(v)) throw invalidParam(field, `${field} is not of type object.`);
    const known: readonly string[] = field === "billing" ? BILLING_FIELDS : SHIPPING_FIELDS;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (!known.includes(k)) continue; // unknown properties are dropped
      if (typeof x !== "string") throw invalidParam(field, `${field}[${k}] is not of type string.`);
      if (k === "email" && x !== "" && !EMAIL.test(x)) throw invalidParam(field, `${field}[email] is not a valid email address.`);
      out[k] = x;
    }
    return out;
  }

  function metaData(body: Record<string, unknown>): { key: string; value: unknown }[] | undefined {
    const v = body.meta_data;
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw invalidParam("meta_data", "meta_data is not of type array.");
    return v.map((m, i) => {
      if (!isObject(m) || typeof m.key !== "string" || !m.key) throw invalidParam("meta_data", `meta_data[${i}][key] is required and must be a string.`);
      return { key: m.key, value: m.value };
    });
  }

  function apply(u: WpUser, body: Record<string, unknown>) {
    const first = stringField(body, "first_name");
    const last = stringField(body, "last_name");
    const billing = address(body, "billing");
    const shipping = address(body, "shipping");
    const meta = metaData(body);
    if (first !== undefined) u.first_name = first;
    if (last !== undefined) u.last_name = last;
    if (billing) Object.assign(u.billing, billing);
    if (shipping) Object.assign(u.shipping, shipping);
    for (const m of meta ?? []) {
      const same = u.meta_data.find((x) => x.key === m.key);
      if (same) same.value = m.value; // update_meta_data( key, value ): the entry of that key
      else u.meta_data.push({ id: metaId(), key: m.key, value: m.value });
    }
    u.date_modified = stamp();
  }

  function list(url: URL): Response {
    const email = url.searchParams.get("email");
    if (email !== null && !EMAIL.test(email)) throw invalidParam("email", "email is not a valid email address.");
    const role = url.searchParams.get("role") ?? "customer";
    if (!ROLES.includes(role)) throw invalidParam("role", `role is not one of ${ROLES.join(", ")}.`);
    const perPage = Number(url.searchParams.get("per_page") ?? "10");
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) throw invalidParam("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)");
    const page = Number(url.searchParams.get("page") ?? "1");
    if (!Number.isInteger(page) || page < 1) throw invalidParam("page", "page must be greater than or equal to 1");
    const all = users.filter((u) => (role === "all" || u.role === role) && (email === null || u.email.toLowerCase() === email.toLowerCase()));
    const pages = Math.max(1, Math.ceil(all.length / perPage));
    return wpJson(all.slice((page - 1) * perPage, page * perPage).map(view), 200, { "x-wp-total": String(all.length), "x-wp-totalpages": String(pages) });
  }

  function create(body: Record<string, unknown>): Response {
    // The route's argument validation comes first, then the controller's checks.
    if (body.email === undefined || body.email === null) throw new WpError("rest_missing_callback_param", "Missing parameter(s): email", 400, { params: ["email"] });
    const email = stringField(body, "email")!;
    if (!EMAIL.test(email)) throw invalidParam("email", "email is not a valid email address.");
    if (body.id !== undefined) throw new WpError("woocommerce_rest_customer_exists", "Cannot create existing resource.", 400);
    if (byEmail(email)) {
      throw new WpError("registration-error-email-exists", 'An account is already registered with your email address. <a href="#" class="showlogin">Please log in.</a>', 400);
    }
    let username = email.split("@")[0].replace(/[^A-Za-z0-9_.-]/g, "") || "customer";
    const base = username;
    for (let n = 1; users.some((u) => u.username === username); n++) username = `${base}-${n}`;
    const now = stamp();
    const user: WpUser = {
      id: userId(), email, username, first_name: "", last_name: "", role: "customer", date_created: now, date_modified: now,
      billing: blank(BILLING_FIELDS), shipping: blank(SHIPPING_FIELDS), meta_data: [], is_paying_customer: false,
    };
    apply(user, body); // validates before the user exists
    users.push(user);
    return wpJson(view(user), 201);
  }

  function update(id: number, body: Record<string, unknown>): Response {
    const user = users.find((u) => u.id === id);
    if (!user) throw new WpError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404);
    const email = stringField(body, "email");
    if (email !== undefined && email.toLowerCase() !== user.email.toLowerCase()) {
      if (!EMAIL.test(email) || byEmail(email)) throw new WpError("woocommerce_rest_customer_invalid_email", "Email address is invalid.", 400);
    }
    if (body.username !== undefined && body.username !== user.username) throw new WpError("woocommerce_rest_customer_invalid_argument", "Username isn't editable.", 400);
    const copy = structuredClone(user);
    apply(copy, body); // all or nothing
    if (email !== undefined) copy.email = email;
    Object.assign(user, copy);
    return wpJson(view(user), 200);
  }

  async function readBody(req: Request): Promise<Record<string, unknown>> {
    const text = await req.text();
    if (!text) return {};
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WpError("rest_invalid_json", "Invalid JSON body passed.", 400);
    }
    if (!isObject(body)) throw new WpError("rest_invalid_json", "Invalid JSON body passed.", 400);
    return body;
  }

  return {
    name: "woocommerce",
    async handle(req) {
      const url = new URL(req.url);
      if (!url.pathname.startsWith("/wp-json")) {
        return new Response("<!doctype html><title>Page not found</title><h1>Oops! That page can’t be found.</h1>", { status: 404, headers: { "content-type": "text/html; charset=UTF-8" } });
      }
      const method = req.method;
      try {
        // WC_REST_Authentication: credentials given are checked first, on every route.
        const basic = decodeBasic(req.headers.get("authorization"));
        const given = basic ?? (url.searchParams.has("consumer_key") ? [url.searchParams.get("consumer_key")!, url.searchParams.get("consumer_secret") ?? ""] : null);
        let key: WoocommerceKey | undefined;
        if (given) {
          key = keys.find((k) => k.key === given[0]);
          if (!key) throw new WpError("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401);
          if (key.secret !== given[1]) throw new WpError("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401);
          const writes = method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
          if (writes && key.permissions === "read") throw new WpError("woocommerce_rest_authentication_error", "The API key provided does not have write permissions.", 401);
          if (!writes && key.permissions === "write") throw new WpError("woocommerce_rest_authentication_error", "The API key provided does not have read permissions.", 401);
        }
        const path = url.pathname.replace(/\/+$/, "");
        const one = /^\/wp-json\/wc\/v3\/customers\/(\d+)$/.exec(path);
        const collection = path === "/wp-json/wc/v3/customers";
        const allowed = collection ? ["GET", "POST"] : one ? ["GET", "PUT", "PATCH", "POST"] : [];
        if (!allowed.includes(method)) throw new WpError("rest_no_route", "No route was found matching the URL and request method.", 404);
        if (!key) {
          if (method === "GET") throw new WpError("woocommerce_rest_cannot_view", collection ? "Sorry, you cannot list resources." : "Sorry, you cannot view this resource.", 401);
          if (collection) throw new WpError("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.", 401);
          throw new WpError("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.", 401);
        }
        if (collection && method === "GET") return list(url);
        if (collection) return create(await readBody(req));
        const id = Number(one![1]);
        if (method === "GET") {
          const u = users.find((x) => x.id === id);
          if (!u) throw new WpError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404);
          return wpJson(view(u));
        }
        return update(id, await readBody(req));
      } catch (err) {
        if (err instanceof WpError) return wpJson({ code: err.code, message: err.message, data: { status: err.status, ...err.extra } }, err.status);
        throw err;
      }
    },
    state: () => structuredClone({ users: users.map(view) }),
    reset,
  };
}
