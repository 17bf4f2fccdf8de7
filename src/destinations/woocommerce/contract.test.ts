/**
 * The woocommerce destination against its double. The oracle is the
 * WooCommerce REST API v3 as the double enforces it (see double.ts): what the
 * double holds after deliveries (one WordPress user per email, whatever its
 * role; one meta entry per record, following the payment), and how its
 * documented answers (401 authentication errors, read-only keys, rest_no_route,
 * woocommerce_rest_invalid_id, registration-error-email-exists, 400 validation)
 * are classified.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { createWoocommerceDouble, SHOP_ADMIN_EMAIL, type WoocommerceDoubleOptions } from "./double.ts";
import { classifyWoocommerce, DEFAULT_WOOCOMMERCE_RATE, LOCAL_WOOCOMMERCE_KEY, LOCAL_WOOCOMMERCE_SECRET, woocommerce, type WoocommerceSettings } from "./index.ts";

interface WpUser {
  id: number; email: string; role: string; first_name: string; last_name: string; username: string;
  billing: Record<string, string>; meta_data: { id: number; key: string; value: string }[];
}
type State = { users: WpUser[] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CUSTOMERS = "/wp-json/wc/v3/customers";

/** The double, with an answer held back after it acted, and a customer search that can miss once (a race). */
function wrapped(inner: VendorDouble) {
  let lag: { method: string; ms: number } | null = null;
  let missSearch = false;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { lag = null; missSearch = false; inner.reset(); },
    async handle(req) {
      const url = new URL(req.url);
      if (missSearch && req.method === "GET" && url.pathname === CUSTOMERS) {
        missSearch = false;
        return new Response("[]", { status: 200, headers: { "content-type": "application/json" } });
      }
      const res = await inner.handle(req);
      const l = lag;
      if (l && req.method === l.method && url.pathname === CUSTOMERS) {
        lag = null;
        await sleep(l.ms);
      }
      return res;
    },
  };
  return {
    double,
    holdAnswer: (method: string, ms: number) => { lag = { method, ms }; },
    /** The next GET /customers answers [] (a customer created by someone else just after it). */
    missNextSearch: () => { missSearch = true; },
  };
}

async function withHarness<T>(options: WoocommerceDoubleOptions, run: (h: Harness<WoocommerceSettings>) => Promise<T>): Promise<T> {
  const h = await startHarness(woocommerce, createWoocommerceDouble(options));
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const AUTH = `Basic ${btoa(`${LOCAL_WOOCOMMERCE_KEY}:${LOCAL_WOOCOMMERCE_SECRET}`)}`;
const raw = (h: Harness<WoocommerceSettings>, path: string, init: RequestInit = {}, auth: string | null = AUTH) =>
  fetch(`${h.settings.url}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}), ...(init.headers as Record<string, string> | undefined) },
  });
const meta = (u: WpUser, key: string) => {
  const entries = u.meta_data.filter((m) => m.key === key);
  expect(entries).toHaveLength(1);
  return JSON.parse(entries[0].value) as Record<string, unknown>;
};

describe("woocommerce settings", () => {
  const full = { WOOCOMMERCE_URL: "https://shop.example.fr", WOOCOMMERCE_CONSUMER_KEY: "ck_abc123", WOOCOMMERCE_CONSUMER_SECRET: "cs_def456" };

  it("is off when nothing is set, needs the URL and both halves of the key, and names the variable that is wrong", () => {
    expect(woocommerce.settings({})).toBeUndefined();
    expect(woocommerce.settings(full)).toEqual({ url: "https://shop.example.fr", consumerKey: "ck_abc123", consumerSecret: "cs_def456" });
    expect(woocommerce.settings({ ...full, WOOCOMMERCE_URL: "https://example.fr/shop/" })?.url).toBe("https://example.fr/shop");
    expect(() => woocommerce.settings({ WOOCOMMERCE_URL: full.WOOCOMMERCE_URL })).toThrow(/WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET are not set/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_CONSUMER_SECRET: "" })).toThrow(/WOOCOMMERCE_CONSUMER_SECRET is not set/);
    expect(() => woocommerce.settings({ WOOCOMMERCE_RATE_LIMIT: "1" })).toThrow(/WOOCOMMERCE_RATE_LIMIT/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_URL: "shop" })).toThrow(/WOOCOMMERCE_URL/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_URL: "http://shop.example.fr" })).toThrow(/WOOCOMMERCE_URL must be an https URL/);
    expect(woocommerce.settings({ ...full, WOOCOMMERCE_URL: "http://localhost:8080/woocommerce" })?.url).toBe("http://localhost:8080/woocommerce");
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_URL: "https://shop.example.fr/wp-json/wc/v3" })).toThrow(/without \/wp-json/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_CONSUMER_KEY: "cs_swapped" })).toThrow(/WOOCOMMERCE_CONSUMER_KEY/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_CONSUMER_SECRET: "ck_swapped" })).toThrow(/WOOCOMMERCE_CONSUMER_SECRET/);
    expect(() => woocommerce.settings({ ...full, WOOCOMMERCE_RATE_LIMIT: "0" })).toThrow(/WOOCOMMERCE_RATE_LIMIT/);
  });

  it("has a modest default pace (no core limit), overridable by WOOCOMMERCE_RATE_LIMIT", () => {
    expect(woocommerce.rateLimit(woocommerce.settings(full)!)).toEqual(DEFAULT_WOOCOMMERCE_RATE);
    expect(DEFAULT_WOOCOMMERCE_RATE.perSecond * woocommerce.maxCallsPerDelivery).toBeLessThanOrEqual(4);
    expect(woocommerce.rateLimit(woocommerce.settings({ ...full, WOOCOMMERCE_RATE_LIMIT: "4" })!)).toEqual({ perSecond: 4, burst: 12 });
  });
});

describe("woocommerce against its double", () => {
  const w = wrapped(createWoocommerceDouble());
  let h: Harness<WoocommerceSettings>;
  const state = () => h.double.double.state() as unknown as State;
  const customers = () => state().users.filter((u) => u.role === "customer");

  beforeAll(async () => { h = await startHarness(woocommerce, w.double); });
  afterAll(() => h.close());
  beforeEach(() => {
    h.double.reset();
    h.remembered.clear();
  });
  const deliver = (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);

  it("a lead: searched by email among all users, then one customer created with names, billing and its meta entry", async () => {
    const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie", postal_code: "75005", connection_type: "photovoltaique" });
    expect(await deliver(event)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const list = customers();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ email: "marie.curie@example.fr", first_name: "Marie", last_name: "Curie", username: "marie.curie" });
    expect(list[0].billing).toMatchObject({ first_name: "Marie", last_name: "Curie", email: "marie.curie@example.fr", phone: "+33612345678", postcode: "75005" });
    expect(meta(list[0], `lovable_lead_${event.recordId}`)).toMatchObject({ type: "lead", service_type: "photovoltaique", postal_code: "75005", utm_source: "google" });
    expect(h.remembered.get(`${event.recordId}/customer`)).toBe(String(list[0].id));

    const calls = h.double.calls();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET ${CUSTOMERS}`, `POST ${CUSTOMERS}`]);
    expect(calls[0].query).toMatchObject({ email: "marie.curie@example.fr", role: "all" });
    expect(calls.every((c) => c.headers.authorization === AUTH)).toBe(true);
  });

  it("the lead's next snapshot updates the remembered customer (one PUT), its meta entry replaced, not added", async () => {
    const first = leadEvent({ lastname: "Curie" });
    expect((await deliver(first)).kind).toBe("delivered");
    const before = h.double.calls().length;
    expect(await deliver(nextEvent(first, { lastName: "Skłodowska", serviceType: "definitif" }))).toMatchObject({ kind: "delivered", httpStatus: 200 });
    const list = customers();
    expect(list).toHaveLength(1);
    expect(list[0].last_name).toBe("Skłodowska");
    expect(meta(list[0], `lovable_lead_${first.recordId}`)).toMatchObject({ service_type: "definitif" });
    expect(h.double.calls().slice(before).map((c) => `${c.method} ${c.path}`)).toEqual([`PUT ${CUSTOMERS}/${list[0].id}`]);
  });

  it("a request and its payment (pending → paid → refunded): one customer, its request meta following the payment", async () => {
    const pending = requestEvent({ email: "jean@example.fr", full_name: "Jean Dupont", company_name: "Dupont SARL", payment_status: "pending" });
    expect((await deliver(pending)).kind).toBe("delivered");
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    let list = customers();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ first_name: "Jean", last_name: "Dupont" });
    expect(list[0].billing).toMatchObject({ company: "Dupont SARL", address_1: "1 rue de la Paix", city: "Paris", postcode: "75002", email: "jean@example.fr" });
    expect(meta(list[0], `lovable_request_${pending.recordId}`)).toMatchObject({ type: "request", payment_status: "paid", amount: 9900, currency: "eur", payment_intent_id: "pi_1", power_kva: 12 });

    expect((await deliver(nextEvent(paid, { payment_status: "refunded" }))).kind).toBe("delivered");
    list = customers();
    expect(list).toHaveLength(1);
    expect(meta(list[0], `lovable_request_${pending.recordId}`)).toMatchObject({ payment_status: "refunded", amount: 9900 });
  });

  it("a lead and a request of the same email share the customer, each with its own meta entry", async () => {
    const lead = leadEvent({ email: "paul@example.fr" });
    const request = requestEvent({ email: "PAUL@example.fr" });
    expect((await deliver(lead)).kind).toBe("delivered");
    expect((await deliver(request)).kind).toBe("delivered");
    const list = customers();
    expect(list).toHaveLength(1);
    meta(list[0], `lovable_lead_${lead.recordId}`);
    meta(list[0], `lovable_request_${request.recordId}`);
  });

  it("an email that belongs to a WordPress user of another role (the shop admin) is found with role=all and updated, never duplicated", async () => {
    expect((await deliver(leadEvent({ email: SHOP_ADMIN_EMAIL }))).kind).toBe("delivered");
    expect(state().users).toHaveLength(1);
    expect(state().users[0].role).toBe("administrator");
    expect(h.double.calls().map((c) => c.method)).toEqual(["GET", "PUT"]);
  });

  it("a customer created between the search and the create (registration-error-email-exists) is found again and updated", async () => {
    const event = leadEvent({ email: "race@example.fr" });
    expect((await deliver(leadEvent({ email: "race@example.fr" }))).kind).toBe("delivered"); // another record made it first
    w.missNextSearch();
    expect(await deliver(event)).toMatchObject({ kind: "delivered", httpStatus: 200 });
    const list = customers();
    expect(list).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/customer`)).toBe(String(list[0].id));
    const calls = h.double.calls().slice(2).map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(calls).toEqual([`GET ${CUSTOMERS} 200`, `POST ${CUSTOMERS} 400`, `GET ${CUSTOMERS} 200`, `PUT ${CUSTOMERS}/${list[0].id} 200`]);
  });

  it("retry after a timeout (double slower than the time limit): no duplicate", async () => {
    const event = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/customers", times: 1 });
    expect(await deliver(event, { timeoutMs: 300 })).toMatchObject({ kind: "retry", httpStatus: null });
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
  });

  it("a customer created whose answer was lost is found by email on the retry, not created twice", async () => {
    const event = leadEvent();
    w.holdAnswer("POST", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    expect(customers()).toHaveLength(1); // WooCommerce did create it
    expect(h.remembered.get(`${event.recordId}/customer`)).toBeUndefined();
    await sleep(600);
    expect(await deliver(event)).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(customers()).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/customer`)).toBe(String(customers()[0].id));
  });

  it("restart between the two calls (the update's path down): the found customer is remembered and only updated next time", async () => {
    expect((await deliver(leadEvent({ email: "eve@example.fr" }))).kind).toBe("delivered");
    const request = requestEvent({ email: "eve@example.fr" });
    h.double.setFaults({ mode: "down", path: "/customers/", times: 1 });
    expect((await deliver(request)).kind).toBe("retry");
    const id = customers()[0].id;
    expect(h.remembered.get(`${request.recordId}/customer`)).toBe(String(id));

    const before = h.double.calls().length;
    expect((await deliver(request)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(h.double.calls().slice(before).map((c) => `${c.method} ${c.path}`)).toEqual([`PUT ${CUSTOMERS}/${id}`]);
  });

  it("a call-back is not applicable (no email): delivered without any call, the excerpt says so", async () => {
    const outcome = await deliver(callbackEvent());
    expect(outcome).toMatchObject({ kind: "delivered", httpStatus: 204 });
    expect((outcome as { excerpt: string }).excerpt).toMatch(/^not applicable: .*no email/);
    expect(h.double.calls()).toHaveLength(0);
    expect(customers()).toHaveLength(0);
  });

  it("a lead or request without email, or an email WooCommerce refuses (400 rest_invalid_param), is dead", async () => {
    const lead = leadEvent();
    expect(await deliver({ ...lead, data: { ...lead.data, email: null } })).toMatchObject({ kind: "dead", httpStatus: null });
    expect(h.double.calls()).toHaveLength(0);
    const outcome = await deliver(leadEvent({ email: "marie@localhost" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect((outcome as { error: string }).error).toMatch(/GET \/customers: HTTP 400 — rest_invalid_param — Invalid parameter\(s\): email — email: email is not a valid email address\./);
    expect(customers()).toHaveLength(0);
  });

  it("a remembered customer deleted in the shop (404 woocommerce_rest_invalid_id) is dead, not recreated", async () => {
    const event = leadEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    h.double.double.reset();
    const outcome = await deliver(nextEvent(event, {}));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
    expect((outcome as { error: string }).error).toMatch(/PUT \/customers\/\d+: HTTP 404 — woocommerce_rest_invalid_id — Invalid resource ID\./);
    expect(customers()).toHaveLength(0);
  });

  it("a refused key pauses naming the variables; no REST route (wrong URL) pauses; 5xx and 429 retry", async () => {
    const refused = await h.deliver(leadEvent(), { settings: { ...h.settings, consumerSecret: "cs_wrong" } });
    expect(refused).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect((refused as { error: string }).error).toMatch(/woocommerce_rest_authentication_error — Consumer secret is invalid\./);
    expect((refused as { reason: string }).reason).toMatch(/WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET/);

    const noRoute = await h.deliver(leadEvent(), { settings: { ...h.settings, url: `${h.settings.url}/wp-json/old` } });
    expect(noRoute).toMatchObject({ kind: "pause", httpStatus: 404 });
    expect((noRoute as { error: string }).error).toMatch(/rest_no_route/);
    expect((noRoute as { reason: string }).reason).toMatch(/WOOCOMMERCE_URL.*permalinks/);
    const noWordpress = await h.deliver(leadEvent(), { settings: { ...h.settings, url: `${h.settings.url}/blog` } });
    expect(noWordpress).toMatchObject({ kind: "pause", httpStatus: 404 });

    h.double.setFaults({ mode: "error", status: 502, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 502 });
    h.double.setFaults({ mode: "throttle", retryAfter: 5, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 5000 });
    expect(customers()).toHaveLength(0);
  });

  it("test(): key accepted for read and write, nothing created; a wrong key, a wrong URL and no server are told apart", async () => {
    expect(await h.test()).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(state().users).toHaveLength(1); // only the shop admin
    expect(h.double.calls().map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([`GET ${CUSTOMERS} 200`, `POST ${CUSTOMERS} 400`]);

    expect(await h.test({ ...h.settings, consumerKey: "ck_unknown" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    const blog = await h.test({ ...h.settings, url: `${h.settings.url}/blog` });
    expect(blog).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    expect(blog.message).toMatch(/WOOCOMMERCE_URL/);
    const closed = await h.test({ ...h.settings, url: "http://127.0.0.1:9" });
    expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    expect(closed.message).toMatch(/WOOCOMMERCE_URL/);
  });
});

describe("woocommerce with a read-only API key", () => {
  const readOnly = { key: "ck_readonly", secret: "cs_readonly", permissions: "read" as const };

  it("deliveries pause (the key cannot write) and test() says the key cannot write, creating nothing", () =>
    withHarness({ keys: [readOnly] }, async (h) => {
      const s = { ...h.settings, consumerKey: readOnly.key, consumerSecret: readOnly.secret };
      const outcome = await h.deliver(leadEvent(), { settings: s });
      expect(outcome).toMatchObject({ kind: "pause", httpStatus: 401 });
      expect((outcome as { reason: string }).reason).toMatch(/read-only.*Read\/Write/);
      const check = await h.test(s);
      expect(check).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
      expect(check.message).toMatch(/can read but not write/);
      expect((h.double.double.state() as unknown as State).users).toHaveLength(1);
    }));
});

describe("woocommerce answers, classified", () => {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    [new Response("", { status, headers }), JSON.stringify(body)] as const;

  it("403 cannot_edit is one record's problem (dead); other 403s and redirects stop the destination (pause)", () => {
    const [r1, b1] = answer(403, { code: "woocommerce_rest_cannot_edit", message: "Sorry, you are not allowed to edit this resource.", data: { status: 403 } });
    expect(classifyWoocommerce(r1, b1, "PUT /customers/1")).toMatchObject({ kind: "dead", httpStatus: 403 });
    const [r2, b2] = answer(403, { code: "woocommerce_rest_cannot_create", message: "Sorry, you are not allowed to create resources.", data: { status: 403 } });
    expect(classifyWoocommerce(r2, b2, "POST /customers")).toMatchObject({ kind: "pause", httpStatus: 403 });
    const [r3, b3] = answer(301, "", { location: "https://www.shop.example.fr/wp-json/wc/v3/customers" });
    const moved = classifyWoocommerce(r3, b3, "GET /customers");
    expect(moved).toMatchObject({ kind: "pause", httpStatus: 301 });
    expect((moved as { reason: string }).reason).toMatch(/https:\/\/www\.shop\.example\.fr/);
  });

  it("HTML in error messages is stripped", () => {
    const [r, b] = answer(400, { code: "registration-error-email-exists", message: 'An account is already registered with your email address. <a href="#" class="showlogin">Please log in.</a>', data: { status: 400 } });
    expect((classifyWoocommerce(r, b, "POST /customers") as { error: string }).error).toBe(
      "POST /customers: HTTP 400 — registration-error-email-exists — An account is already registered with your email address. Please log in.",
    );
  });
});

describe("the double enforces WooCommerce's documented rules", () => {
  let h: Harness<WoocommerceSettings>;
  beforeAll(async () => { h = await startHarness(woocommerce, createWoocommerceDouble()); });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());
  const post = (body: unknown) => raw(h, CUSTOMERS, { method: "POST", body: JSON.stringify(body) });

  it("authentication: unknown key, wrong secret, missing credentials, each in WooCommerce's error shape", async () => {
    const bad = await raw(h, CUSTOMERS, {}, `Basic ${btoa("ck_nope:cs_nope")}`);
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ code: "woocommerce_rest_authentication_error", message: "Consumer key is invalid.", data: { status: 401 } });
    expect(await (await raw(h, CUSTOMERS, {}, `Basic ${btoa(`${LOCAL_WOOCOMMERCE_KEY}:cs_nope`)}`)).json()).toMatchObject({ message: "Consumer secret is invalid." });
    const none = await raw(h, CUSTOMERS, {}, null);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "woocommerce_rest_cannot_view" });
    expect((await raw(h, `${CUSTOMERS}?consumer_key=${LOCAL_WOOCOMMERCE_KEY}&consumer_secret=${LOCAL_WOOCOMMERCE_SECRET}`, {}, null)).status).toBe(200);
  });

  it("customers: email required and valid, unique among all users (any case), listed by role (default customer)", async () => {
    const missing = await post({ first_name: "A" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ code: "rest_missing_callback_param", message: "Missing parameter(s): email", data: { status: 400, params: ["email"] } });
    expect((await post({ email: "not-an-email" })).status).toBe(400);
    expect((await post({ email: "a@example.fr", billing: { email: "nope" } })).status).toBe(400);
    expect((await post({ email: "a@example.fr", meta_data: [{ value: "x" }] })).status).toBe(400);
    expect((await post({ email: "a@example.fr" })).status).toBe(201);
    const dup = await post({ email: "A@Example.fr" });
    expect(dup.status).toBe(400);
    expect(await dup.json()).toMatchObject({ code: "registration-error-email-exists", data: { status: 400 } });
    const taken = await post({ email: SHOP_ADMIN_EMAIL });
    expect(await taken.json()).toMatchObject({ code: "registration-error-email-exists" });

    const byDefault = await raw(h, `${CUSTOMERS}?email=${encodeURIComponent(SHOP_ADMIN_EMAIL)}`);
    expect(await byDefault.json()).toEqual([]);
    const all = await raw(h, `${CUSTOMERS}?email=${encodeURIComponent(SHOP_ADMIN_EMAIL)}&role=all`);
    expect(await all.json()).toHaveLength(1);
    expect(all.headers.get("x-wp-total")).toBe("1");
    expect((await raw(h, `${CUSTOMERS}?role=robot`)).status).toBe(400);
    expect((await raw(h, `${CUSTOMERS}?per_page=500`)).status).toBe(400);
  });

  it("update: unknown id 404 invalid_id; meta by key; username not editable; another user's email refused", async () => {
    const created = (await (await post({ email: "b@example.fr", meta_data: [{ key: "k", value: "1" }] })).json()) as { id: number };
    expect((await raw(h, `${CUSTOMERS}/999`, { method: "PUT", body: "{}" })).status).toBe(404);
    const put = (body: unknown) => raw(h, `${CUSTOMERS}/${created.id}`, { method: "PUT", body: JSON.stringify(body) });
    const updated = (await (await put({ meta_data: [{ key: "k", value: "2" }, { key: "other", value: "x" }] })).json()) as WpUser;
    expect(updated.meta_data.map((m) => [m.key, m.value])).toEqual([["k", "2"], ["other", "x"]]);
    expect(await (await put({ username: "renamed" })).json()).toMatchObject({ code: "woocommerce_rest_customer_invalid_argument" });
    expect(await (await put({ email: SHOP_ADMIN_EMAIL })).json()).toMatchObject({ code: "woocommerce_rest_customer_invalid_email" });
    expect(await (await put("[")).json()).toMatchObject({ code: "rest_invalid_json" });
  });

  it("an unknown route is 404 rest_no_route; outside /wp-json the site's HTML 404", async () => {
    const noRoute = await raw(h, "/wp-json/wc/v3/nope");
    expect(noRoute.status).toBe(404);
    expect(await noRoute.json()).toEqual({ code: "rest_no_route", message: "No route was found matching the URL and request method.", data: { status: 404 } });
    expect((await raw(h, CUSTOMERS, { method: "DELETE" })).status).toBe(404);
    const html = await raw(h, "/shop/");
    expect(html.status).toBe(404);
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
  });
});
