/**
 * The shopify destination against its double. The oracle is Shopify's
 * documented GraphQL Admin API as the double enforces it (double.ts): one
 * customer per email (per phone for a call-back), its details in metafields,
 * unique email and phone, E.164 phones, the cost bucket and its THROTTLED answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { createShopifyDouble, type DoubleCustomer, type ShopifyDoubleOptions } from "./double.ts";
import { classifyShopifyHttp, DEFAULT_SHOPIFY_API_VERSION, LOCAL_SHOPIFY_TOKEN, shopify, throttleWaitMs, type ShopifySettings } from "./index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GQL = `/admin/api/${DEFAULT_SHOPIFY_API_VERSION}/graphql.json`;

/** The double, with one answer held back after the double acted: "created at Shopify, the answer never came". */
function lagging(inner: VendorDouble) {
  let lag: { field: string; ms: number } | null = null;
  let drop: string | null = null;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { lag = null; drop = null; inner.reset(); },
    async handle(req) {
      const text = await req.clone().text();
      if (drop && text.includes(drop)) {
        drop = null;
        throw new Error("connection lost before Shopify acted"); // the kit answers by closing or 500
      }
      const res = await inner.handle(req);
      const l = lag;
      if (l && text.includes(l.field)) {
        lag = null;
        await sleep(l.ms);
      }
      return res;
    },
  };
  return {
    double,
    holdAnswer: (field: string, ms: number) => { lag = { field, ms }; },
    dropNext: (field: string) => { drop = field; },
  };
}

async function withHarness<T>(options: ShopifyDoubleOptions, run: (h: Harness<ShopifySettings>) => Promise<T>): Promise<T> {
  const h = await startHarness(shopify, createShopifyDouble(options));
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const gqlRaw = (h: Harness<ShopifySettings>, query: string, variables: unknown = {}, token: string | null = LOCAL_SHOPIFY_TOKEN) =>
  fetch(`${h.settings.shopUrl}${GQL}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { "x-shopify-access-token": token } : {}) },
    body: JSON.stringify({ query, variables }),
  });

const metafield = (c: DoubleCustomer, key: string) => {
  const m = c.metafields.find((x) => x.namespace === "lovable" && x.key === key);
  return m ? JSON.parse(m.value) : undefined;
};

describe("shopify settings", () => {
  it("is off without SHOPIFY_ACCESS_TOKEN, pins the API version, and names the variable that is wrong", () => {
    expect(shopify.settings({})).toBeUndefined();
    expect(shopify.settings({ SHOPIFY_ACCESS_TOKEN: "shpat_x", SHOPIFY_URL: "https://acme.myshopify.com/" })).toEqual({
      accessToken: "shpat_x", shopUrl: "https://acme.myshopify.com", apiVersion: "2025-07",
    });
    expect(shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://acme.myshopify.com", SHOPIFY_API_VERSION: "2025-10" })?.apiVersion).toBe("2025-10");
    expect(() => shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t" })).toThrow(/SHOPIFY_URL/);
    expect(() => shopify.settings({ SHOPIFY_URL: "https://acme.myshopify.com" })).toThrow(/SHOPIFY_ACCESS_TOKEN/);
    expect(() => shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "acme.myshopify.com" })).toThrow(/SHOPIFY_URL/);
    expect(() => shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://acme.myshopify.com/admin/api/2025-07/graphql.json" })).toThrow(/SHOPIFY_URL/);
    expect(() => shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://acme.myshopify.com", SHOPIFY_API_VERSION: "2025-05" })).toThrow(/SHOPIFY_API_VERSION/);
    expect(() => shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://acme.myshopify.com", SHOPIFY_RATE_LIMIT: "lots" })).toThrow(/SHOPIFY_RATE_LIMIT/);
  });

  it("paces under the documented bucket: 50 points/s restore, 1,000-point bucket, at 11–32 points a delivery", () => {
    const pace = shopify.rateLimit(shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://a.myshopify.com" })!);
    expect(pace.perSecond * 11).toBeLessThanOrEqual(50); // 1 (customerByIdentifier) + 10 (a mutation)
    expect(pace.burst * 32).toBeLessThanOrEqual(1000);
    expect(shopify.rateLimit(shopify.settings({ SHOPIFY_ACCESS_TOKEN: "t", SHOPIFY_URL: "https://a.myshopify.com", SHOPIFY_RATE_LIMIT: "2" })!).perSecond).toBe(2);
  });
});

describe("shopify against its double", () => {
  const lag = lagging(createShopifyDouble());
  let h: Harness<ShopifySettings>;
  const customers = () => (h.double.double.state() as { customers: DoubleCustomer[] }).customers;

  beforeAll(async () => { h = await startHarness(shopify, lag.double); });
  afterAll(() => h.close());
  beforeEach(() => {
    h.double.reset();
    h.remembered.clear();
  });
  const deliver = (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);
  const calls = () => h.double.calls().map((c) => (c.body as { query: string }).query.match(/\{\s*(\w+)/)?.[1]);

  it("a lead: looked up by email, created once with its names, phone, tags and details metafield", async () => {
    const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie", phone: "+33612345678" });
    expect((await deliver(event)).kind).toBe("delivered");
    const [c] = customers();
    expect(customers()).toHaveLength(1);
    expect(c).toMatchObject({ email: "marie.curie@example.fr", phone: "+33612345678", firstName: "Marie", lastName: "Curie" });
    expect(c.tags).toContain("lovable");
    expect(metafield(c, `lead-${event.recordId}`)).toMatchObject({ lovable_lead_id: event.recordId, serviceType: "photovoltaique", postalCode: "75005", utm_source: "google" });
    expect(calls()).toEqual(["customerByIdentifier", "customerCreate"]);
    expect(h.double.calls().every((x) => x.headers["x-shopify-access-token"] === LOCAL_SHOPIFY_TOKEN && x.path === GQL)).toBe(true);
    expect((h.double.calls()[0].body as { variables: unknown }).variables).toEqual({ identifier: { emailAddress: "marie.curie@example.fr" } });
    expect(h.remembered.get(`${event.recordId}/customer`)).toBe(c.id);
  });

  it("the lead's next snapshot updates the same customer by its id; merchant tags are kept", async () => {
    const first = leadEvent({ lastname: "Curie" });
    expect((await deliver(first)).kind).toBe("delivered");
    const id = customers()[0].id;
    await gqlRaw(h, "mutation { customerUpdate(input: $input) { customer { id } } }", { input: { id, tags: ["lovable", "vip"] } });
    expect((await deliver(nextEvent(first, { lastName: "Skłodowska-Curie", serviceType: "definitif" }))).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(customers()[0]).toMatchObject({ id, lastName: "Skłodowska-Curie", tags: ["lovable", "vip"] });
    expect(metafield(customers()[0], `lead-${first.recordId}`).serviceType).toBe("definitif");
    expect(calls().slice(-1)).toEqual(["customerUpdate"]);
  });

  it("an existing customer with that email (any case) is found and updated, not duplicated", async () => {
    await gqlRaw(h, "mutation { customerCreate(input: $input) { customer { id } } }", { input: { email: "Marie@Example.fr", tags: ["from-shop"] } });
    const event = leadEvent({ email: "marie@example.fr" });
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(customers()[0].tags).toEqual(["from-shop"]);
    expect(metafield(customers()[0], `lead-${event.recordId}`)).toBeDefined();
  });

  it("a call-back without email: a customer by phone, found by phoneNumber or created", async () => {
    const event = callbackEvent({ full_name: "Ana Lopez Garcia", phone: "+33698765432" });
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toEqual([expect.objectContaining({ email: null, phone: "+33698765432", firstName: "Ana", lastName: "Lopez Garcia" })]);
    expect((h.double.calls()[0].body as { variables: unknown }).variables).toEqual({ identifier: { phoneNumber: "+33698765432" } });
    // Another call-back from the same phone is the same customer.
    expect((await deliver(callbackEvent({ phone: "+33698765432" }))).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(customers()[0].metafields).toHaveLength(2);
  });

  it("a French national phone is sent as E.164; a call-back whose phone cannot be is dead before any call", async () => {
    expect((await deliver(callbackEvent({ phone: "06 98 76 54 32" }))).kind).toBe("delivered");
    expect(customers()[0].phone).toBe("+33698765432");
    const bad = await deliver(callbackEvent({ phone: "12" }));
    expect(bad).toMatchObject({ kind: "dead", httpStatus: null });
    expect((bad as { error: string }).error).toMatch(/phone/);
    expect(h.double.calls()).toHaveLength(2);
  });

  it("payment progression: pending → paid → refunded updates the same customer's request metafield", async () => {
    const pending = requestEvent({ payment_status: "pending", full_name: "Jean Dupont" });
    expect((await deliver(pending)).kind).toBe("delivered");
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    expect(metafield(customers()[0], `request-${pending.recordId}`)).toMatchObject({ payment_status: "paid", amount: 9900, currency: "eur", payment_intent_id: "pi_1" });
    expect((await deliver(nextEvent(paid, { payment_status: "refunded" }))).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    const c = customers()[0];
    expect(c).toMatchObject({ firstName: "Jean", lastName: "Dupont" });
    expect(c.metafields).toHaveLength(1);
    expect(metafield(c, `request-${pending.recordId}`)).toMatchObject({ payment_status: "refunded", type_raccordement: "definitif", zip_code: "75002" });
  });

  it("a lead and a request of the same person share one customer", async () => {
    expect((await deliver(leadEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    expect((await deliver(requestEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(customers()[0].metafields.map((m) => m.key.split("-")[0]).sort()).toEqual(["lead", "request"]);
  });

  it("retry after a timeout (the answer of customerCreate lost): found by email, no duplicate", async () => {
    const event = requestEvent();
    lag.holdAnswer("customerCreate", 800);
    expect(await deliver(event, { timeoutMs: 300 })).toMatchObject({ kind: "retry", httpStatus: null });
    expect(customers()).toHaveLength(1); // Shopify did create it
    expect(h.remembered.get(`${event.recordId}/customer`)).toBeUndefined();
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/customer`)).toBe(customers()[0].id);
  });

  it("retry after a timeout (double slow fault on the whole call): no duplicate", async () => {
    const event = leadEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, times: 1 });
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
  });

  it("restart between two calls (the mutation's call down): the lookup is redone, one customer", async () => {
    const event = callbackEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    const next = nextEvent(event, { firstName: "Anita" });
    h.double.setFaults({ mode: "down", times: 1 });
    expect((await deliver(next)).kind).toBe("retry");
    expect((await deliver(next)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
    expect(customers()[0].firstName).toBe("Anita");
  });

  it("restart after the lookup, before the creation (the creation's call dropped): the retry creates exactly one customer", async () => {
    const event = leadEvent();
    lag.dropNext("customerCreate");
    expect(await deliver(event)).toMatchObject({ kind: "retry" });
    expect(customers()).toHaveLength(0);
    expect(h.remembered.size).toBe(0);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(customers()).toHaveLength(1);
  });

  it("email taken by a customer created meanwhile: found again and updated, not dead, not duplicated", async () => {
    const event = leadEvent({ email: "race@example.fr" });
    // Another writer creates the customer between our lookup and our creation.
    const original = lag.double.handle;
    let raced = false;
    lag.double.handle = async (req) => {
      const text = await req.clone().text();
      if (!raced && text.includes("customerCreate")) {
        raced = true;
        await gqlRaw(h, "mutation { customerCreate(input: $input) { customer { id } } }", { input: { email: "race@example.fr" } });
      }
      return original(req);
    };
    try {
      expect((await deliver(event)).kind).toBe("delivered");
    } finally {
      lag.double.handle = original;
    }
    expect(customers()).toHaveLength(1);
    expect(metafield(customers()[0], `lead-${event.recordId}`)).toBeDefined();
    expect(calls().filter((c) => c === "customerByIdentifier")).toHaveLength(2);
  });

  it("a phone already held by another customer: the customer is created without it, the record is not lost", async () => {
    expect((await deliver(callbackEvent({ phone: "+33611111111" }))).kind).toBe("delivered");
    const lead = leadEvent({ email: "other@example.fr", phone: "+33611111111" });
    expect((await deliver(lead)).kind).toBe("delivered");
    expect(customers()).toHaveLength(2);
    expect(customers()[1]).toMatchObject({ email: "other@example.fr", phone: null });
  });

  it("Shopify's validation userErrors are dead with the field and message (an email Shopify refuses)", async () => {
    const outcome = await deliver(leadEvent({ email: "not-an-email" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 200 });
    expect((outcome as { error: string }).error).toMatch(/customerCreate userErrors: email: Email is invalid/);
    expect(customers()).toHaveLength(0);
  });

  it("a remembered customer deleted at Shopify: dead, with the reason", async () => {
    const event = leadEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    h.double.double.reset();
    const outcome = await deliver(nextEvent(event, { lastName: "X" }));
    expect(outcome).toMatchObject({ kind: "dead" });
    expect((outcome as { error: string }).error).toMatch(/id: Customer does not exist.*deleted/);
  });

  it("401 pauses with the variable to fix; 402/423 pause; 404 pauses (wrong URL); 5xx and 429 retry", async () => {
    const refused = await h.deliver(leadEvent(), { settings: { ...h.settings, accessToken: "shpat_wrong" } });
    expect(refused).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect((refused as { reason: string }).reason).toMatch(/SHOPIFY_ACCESS_TOKEN/);
    expect(await h.deliver(leadEvent(), { settings: { ...h.settings, apiVersion: "2025-13" } })).toMatchObject({ kind: "pause", httpStatus: 404 });
    for (const status of [402, 423]) {
      h.double.setFaults({ mode: "reject", status, times: 1 });
      expect(await deliver(leadEvent())).toMatchObject({ kind: "pause", httpStatus: status });
    }
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "throttle", retryAfter: 3, times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 3000 });
  });

  it("test(): token accepted and nothing created; a wrong token and a wrong URL are told apart", async () => {
    expect(await h.test()).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(customers()).toHaveLength(0);
    expect((h.double.calls()[0].body as { query: string }).query).toMatch(/shop\s*\{\s*name\s*\}/);
    expect(await h.test({ ...h.settings, accessToken: "nope" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    expect(await h.test({ ...h.settings, shopUrl: `${h.server.url}/elsewhere` })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    const closed = await h.test({ ...h.settings, shopUrl: "http://127.0.0.1:9" });
    expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    expect(closed.message).toMatch(/SHOPIFY_URL/);
  });
});

describe("shopify cost-based throttling", () => {
  it("the bucket spent: THROTTLED (HTTP 200) → retry after (requested − available) / restoreRate", () =>
    withHarness({ bucketSize: 15, restoreRate: 5 }, async (h) => {
      expect((await h.deliver(leadEvent())).kind).toBe("delivered"); // 1 + 10 of 15
      const outcome = await h.deliver(leadEvent()); // lookup (1) ok, creation (10) > ~3 left
      expect(outcome).toMatchObject({ kind: "retry", httpStatus: 200 });
      expect((outcome as { error: string }).error).toMatch(/THROTTLED/);
      const wait = (outcome as { retryAfterMs: number }).retryAfterMs;
      expect(wait).toBeGreaterThan(1000);
      expect(wait).toBeLessThanOrEqual(2000); // (10 − 3) / 5 s = 1.4 s
      const last = h.double.calls().at(-1)!;
      expect(last.status).toBe(200);
      await sleep(wait);
      const again = await h.deliver(leadEvent());
      expect(again.kind).not.toBe("dead");
    }));

  it("every answer carries extensions.cost with the throttle status", () =>
    withHarness({}, async (h) => {
      const res = await gqlRaw(h, "query { shop { name } }");
      const body = await res.json() as { data: unknown; extensions: { cost: unknown } };
      expect(body.data).toEqual({ shop: { name: "Sandbox Shop" } });
      expect(body.extensions.cost).toEqual({ requestedQueryCost: 1, actualQueryCost: 1, throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 999, restoreRate: 50 } });
    }));

  it("the wait is computed from the documented extension; a 429 without Retry-After uses it too", () => {
    expect(throttleWaitMs({ requestedQueryCost: 101, throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 1, restoreRate: 50 } })).toBe(2000);
    expect(throttleWaitMs({ requestedQueryCost: 10 })).toBeUndefined();
    const body = JSON.stringify({ errors: [{ message: "Throttled" }], extensions: { cost: { requestedQueryCost: 60, throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 10, restoreRate: 50 } } } });
    expect(classifyShopifyHttp(new Response("", { status: 429 }), body, "customerCreate")).toMatchObject({ kind: "retry", retryAfterMs: 1000 });
    expect(classifyShopifyHttp(new Response("", { status: 429, headers: { "retry-after": "2" } }), body, "x")).toMatchObject({ retryAfterMs: 2000 });
  });
});

describe("the double enforces Shopify's documented rules", () => {
  let h: Harness<ShopifySettings>;
  beforeAll(async () => { h = await startHarness(shopify, createShopifyDouble()); });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());
  const create = async (input: unknown) =>
    (await (await gqlRaw(h, "mutation C($input: CustomerInput!) { customerCreate(input: $input) { customer { id } userErrors { field message } } }", { input })).json()) as {
      data: { customerCreate: { customer: { id: string } | null; userErrors: { field: string[] | null; message: string }[] } };
    };

  it("X-Shopify-Access-Token: missing or wrong → 401 with Shopify's error string; unknown path → 404", async () => {
    for (const token of [null, "bad"]) {
      const res = await gqlRaw(h, "{ shop { name } }", {}, token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" });
    }
    expect((await fetch(`${h.settings.shopUrl}/admin/api/graphql.json`, { method: "POST" })).status).toBe(404);
  });

  it("email and phone unique, phone E.164, a name, phone or email required, gids as ids", async () => {
    const ok = await create({ email: "a@example.fr", phone: "+33600000001" });
    expect(ok.data.customerCreate.customer?.id).toMatch(/^gid:\/\/shopify\/Customer\/\d+$/);
    expect((await create({ email: "A@example.fr" })).data.customerCreate.userErrors).toEqual([{ field: ["email"], message: "Email has already been taken" }]);
    expect((await create({ phone: "+33600000001" })).data.customerCreate.userErrors).toEqual([{ field: ["phone"], message: "Phone has already been taken" }]);
    expect((await create({ phone: "0600000002" })).data.customerCreate.userErrors).toEqual([{ field: ["phone"], message: "Phone is invalid" }]);
    expect((await create({ note: "x" })).data.customerCreate.userErrors[0].message).toMatch(/name, phone number or email/);
    expect((await create({ email: "b@example.fr", metafields: [{ namespace: "lovable", key: "k", type: "json", value: "{" }] })).data.customerCreate.userErrors.length).toBeGreaterThan(0);
    expect((h.double.double.state() as { customers: unknown[] }).customers).toHaveLength(1);
  });
});
