/**
 * A Shopify double: the part of the GraphQL Admin API the shopify destination
 * uses, as Shopify documents it. Sources (shopify.dev):
 * - GraphQL Admin API: `POST /admin/api/{version}/graphql.json`, header
 *   `X-Shopify-Access-Token`, JSON `{query, variables}`; answers
 *   `{data, errors?, extensions: {cost}}` (docs/api/admin-graphql).
 * - customerByIdentifier (query, 2025-01+): `identifier: CustomerIdentifierInput!`
 *   ({emailAddress} | {phoneNumber} | {id} | {customId}); null when none.
 * - customerCreate / customerUpdate (mutations): `input: CustomerInput!`
 *   (id for an update, email, phone, firstName, lastName, note, tags, metafields);
 *   payload `{customer, userErrors: [{field, message}]}`. Email and phone are unique
 *   per shop ("has already been taken"), the phone is E.164 ("Phone is invalid"),
 *   a customer needs a name, a phone or an email; `tags` on an update overwrites;
 *   metafields are upserted by namespace + key (MetafieldInput: namespace, key 2–64
 *   of [A-Za-z0-9_-], type, value; a `json` value must be JSON).
 * - Rate limits (docs/api/usage/rate-limits, apps/build/apis/graphql-admin/rate-limits):
 *   a leaky bucket per app and store (1,000 points, restored at 50 points/s — options);
 *   a query needs its requested cost available, else HTTP 200 with
 *   `errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]`; every answer
 *   carries `extensions.cost {requestedQueryCost, actualQueryCost, throttleStatus
 *   {maximumAvailable, currentlyAvailable, restoreRate}}`. Costs: an object 1, a mutation 10.
 * - Status codes (docs/api/usage/response-codes): 401 with
 *   `{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}`,
 *   404 `{"errors": "Not Found"}`, 400 for a body that is not JSON or has no query.
 * Customer ids are gids: gid://shopify/Customer/<n>.
 */
import { json, readJson, type VendorDouble } from "../double-kit.ts";
import { LOCAL_SHOPIFY_TOKEN } from "./index.ts";

export interface ShopifyDoubleOptions {
  token?: string;
  bucketSize?: number;
  restoreRate?: number;
  shopName?: string;
}

interface Metafield { namespace: string; key: string; type: string; value: string }
export interface DoubleCustomer {
  id: string; email: string | null; phone: string | null; firstName: string | null; lastName: string | null;
  note: string | null; tags: string[]; metafields: Metafield[]; createdAt: string; updatedAt: string;
}
interface UserError { field: string[] | null; message: string }

const INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)";
const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The root field of the (single) operation: the first field after the operation's opening brace. */
function rootField(query: string): string | null {
  const body = query.replace(/#[^\n]*/g, "");
  const open = body.indexOf("{");
  if (open < 0) return null;
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(body.slice(open + 1));
  return m ? m[1] : null;
}

export function createShopifyDouble(options: ShopifyDoubleOptions = {}): VendorDouble {
  const token = options.token ?? LOCAL_SHOPIFY_TOKEN;
  const bucketSize = options.bucketSize ?? 1000;
  const restoreRate = options.restoreRate ?? 50;
  let customers: DoubleCustomer[] = [];
  let nextId = 1;
  let available = bucketSize;
  let at = Date.now();

  const refill = () => {
    const now = Date.now();
    available = Math.min(bucketSize, available + ((now - at) / 1000) * restoreRate);
    at = now;
  };
  const throttleStatus = () => ({ maximumAvailable: bucketSize, currentlyAvailable: Math.floor(available), restoreRate });

  const byEmail = (email: string) => customers.find((c) => c.email?.toLowerCase() === email.toLowerCase());
  const byPhone = (phone: string) => customers.find((c) => c.phone === phone);

  /** Validates a CustomerInput against Shopify's rules; the errors Shopify would list. */
  function validate(input: Record<string, unknown>, self: DoubleCustomer | null): UserError[] {
    const errors: UserError[] = [];
    const str = (k: string) => (input[k] === undefined || input[k] === null ? undefined : input[k]);
    for (const k of ["email", "phone", "firstName", "lastName", "note"]) {
      const v = str(k);
      if (v !== undefined && typeof v !== "string") errors.push({ field: [k], message: `${k} must be a string` });
    }
    const email = str("email") as string | undefined;
    if (typeof email === "string" && email !== "") {
      if (!EMAIL.test(email)) errors.push({ field: ["email"], message: "Email is invalid" });
      else { const other = byEmail(email); if (other && other !== self) errors.push({ field: ["email"], message: "Email has already been taken" }); }
    }
    const phone = str("phone") as string | undefined;
    if (typeof phone === "string" && phone !== "") {
      if (!E164.test(phone)) errors.push({ field: ["phone"], message: "Phone is invalid" });
      else { const other = byPhone(phone); if (other && other !== self) errors.push({ field: ["phone"], message: "Phone has already been taken" }); }
    }
    if (input.tags !== undefined && (!Array.isArray(input.tags) || input.tags.some((t) => typeof t !== "string" || t.length > 255))) {
      errors.push({ field: ["tags"], message: "Tags must be strings of at most 255 characters" });
    }
    if (input.metafields !== undefined) {
      if (!Array.isArray(input.metafields)) errors.push({ field: ["metafields"], message: "Metafields must be a list" });
      else input.metafields.forEach((m, i) => {
        const f = (k: string) => ["metafields", String(i), k];
        if (!isObject(m)) return errors.push({ field: ["metafields", String(i)], message: "Metafield is invalid" });
        if (typeof m.namespace !== "string" || m.namespace.length < 3 || m.namespace.length > 255) errors.push({ field: f("namespace"), message: "Namespace is too short (minimum is 3 characters)" });
        if (typeof m.key !== "string" || !/^[A-Za-z0-9_-]{2,64}$/.test(m.key)) errors.push({ field: f("key"), message: "Key must be 2-64 characters of letters, numbers, - or _" });
        if (typeof m.type !== "string" || !m.type) errors.push({ field: f("type"), message: "Type can't be blank" });
        if (typeof m.value !== "string") errors.push({ field: f("value"), message: "Value can't be blank" });
        else if (m.type === "json") { try { JSON.parse(m.value); } catch { errors.push({ field: f("value"), message: "Value is invalid JSON" }); } }
      });
    }
    const after = { email: email ?? self?.email, phone: phone ?? self?.phone, firstName: str("firstName") ?? self?.firstName, lastName: str("lastName") ?? self?.lastName };
    if (!after.email && !after.phone && !after.firstName && !after.lastName) {
      errors.push({ field: null, message: "Customer must have a name, phone number or email address" });
    }
    return errors;
  }

  function apply(c: DoubleCustomer, input: Record<string, unknown>) {
    for (const k of ["email", "phone", "firstName", "lastName", "note"] as const) {
      if (input[k] !== undefined) c[k] = (input[k] as string | null) || null;
    }
    if (Array.isArray(input.tags)) c.tags = [...new Set(input.tags as string[])];
    if (Array.isArray(input.metafields)) {
      for (const m of input.metafields as Metafield[]) {
        const existing = c.metafields.find((x) => x.namespace === m.namespace && x.key === m.key);
        if (existing) Object.assign(existing, { type: m.type, value: m.value });
        else c.metafields.push({ namespace: m.namespace, key: m.key, type: m.type, value: m.value });
      }
    }
    c.updatedAt = new Date().toISOString();
  }

  type Run = { cost: number; data?: unknown; errors?: unknown[] };
  function run(field: string, variables: Record<string, unknown>): Run {
    switch (field) {
      case "shop":
        return { cost: 1, data: { shop: { name: options.shopName ?? "Sandbox Shop" } } };
      case "customerByIdentifier": {
        const id = variables.identifier;
        if (!isObject(id)) return { cost: 1, errors: [{ message: "Variable $identifier of type CustomerIdentifierInput! was provided invalid value", extensions: { code: "INVALID_VARIABLE" } }] };
        const keys = Object.keys(id).filter((k) => id[k] !== undefined && id[k] !== null);
        if (keys.length !== 1) return { cost: 1, errors: [{ message: "Exactly one identifier must be given", extensions: { code: "BAD_REQUEST" } }] };
        const c = typeof id.emailAddress === "string" ? byEmail(id.emailAddress)
          : typeof id.phoneNumber === "string" ? byPhone(id.phoneNumber)
          : typeof id.id === "string" ? customers.find((x) => x.id === id.id) : undefined;
        return { cost: 1, data: { customerByIdentifier: c ? { id: c.id } : null } };
      }
      case "customerCreate":
      case "customerUpdate": {
        const input = variables.input;
        if (!isObject(input)) return { cost: 10, errors: [{ message: "Variable $input of type CustomerInput! was provided invalid value", extensions: { code: "INVALID_VARIABLE" } }] };
        const payload = (customer: DoubleCustomer | null, userErrors: UserError[]) => ({ [field]: { customer: customer ? { id: customer.id } : null, userErrors } });
        if (field === "customerCreate") {
          if (input.id !== undefined) return { cost: 10, data: payload(null, [{ field: ["id"], message: "Cannot specify ID on creation" }]) };
          const errors = validate(input, null);
          if (errors.length) return { cost: 10, data: payload(null, errors) };
          const now = new Date().toISOString();
          const c: DoubleCustomer = { id: `gid://shopify/Customer/${nextId++}`, email: null, phone: null, firstName: null, lastName: null, note: null, tags: [], metafields: [], createdAt: now, updatedAt: now };
          apply(c, input);
          customers.push(c);
          return { cost: 10, data: payload(c, []) };
        }
        const c = customers.find((x) => x.id === input.id);
        if (!c) return { cost: 10, data: payload(null, [{ field: ["id"], message: "Customer does not exist" }]) };
        const errors = validate(input, c);
        if (errors.length) return { cost: 10, data: payload(null, errors) };
        apply(c, input);
        return { cost: 10, data: payload(c, []) };
      }
      default:
        return { cost: 1, errors: [{ message: `Field '${field}' doesn't exist on type 'QueryRoot'`, extensions: { code: "undefinedField" } }] };
    }
  }

  return {
    name: "shopify",
    async handle(req) {
      const url = new URL(req.url);
      const m = /^\/admin\/api\/(\d{4}-(?:01|04|07|10)|unstable)\/graphql\.json$/.exec(url.pathname);
      if (!m) return json({ errors: "Not Found" }, 404);
      if (req.headers.get("x-shopify-access-token") !== token) return json({ errors: INVALID_TOKEN }, 401);
      if (req.method !== "POST") return json({ errors: "Not Found" }, 404);
      const body = await readJson(req);
      if (!isObject(body) || typeof body.query !== "string") return json({ errors: { query: "Required parameter missing or invalid" } }, 400);
      const field = rootField(body.query);
      if (!field) return json({ errors: [{ message: "syntax error, unexpected end of file", extensions: { code: "PARSE_ERROR" } }] }, 200);
      const variables = isObject(body.variables) ? body.variables : {};
      const requested = field === "customerCreate" || field === "customerUpdate" ? 10 : 1;

      refill();
      if (requested > available) {
        return json({
          errors: [{ message: "Throttled", extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" } }],
          extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus() } },
        });
      }
      const out = run(field, variables);
      available -= out.cost;
      const cost = { requestedQueryCost: requested, actualQueryCost: out.cost, throttleStatus: throttleStatus() };
      return json({ ...(out.data !== undefined ? { data: out.data } : {}), ...(out.errors ? { errors: out.errors } : {}), extensions: { cost } });
    },
    state: () => structuredClone({ customers }),
    reset() {
      customers = [];
      nextId = 1;
      available = bucketSize;
      at = Date.now();
    },
  };
}
