/**
 * The sellsy destination against its double. The oracle is Sellsy's documented
 * API v2 as the double enforces it (double.ts): one individual per email, one
 * contact per mobile number, a company + linked contact for a professionnel, one
 * opportunity per request whose status follows the payment; OAuth2 client
 * credentials; the documented error shape and quota headers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { createSellsyDouble, type SCompany, type SContact, type SellsyDoubleOptions, type SIndividual, type SOpportunity } from "./double.ts";
import { classifySellsy, forgetSellsyTokens, LOCAL_SELLSY_CLIENT_ID, LOCAL_SELLSY_CLIENT_SECRET, nextUtcMidnight, sellsy, type SellsySettings } from "./index.ts";

type State = { individuals: SIndividual[]; contacts: SContact[]; companies: SCompany[]; opportunities: SOpportunity[] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lagging(inner: VendorDouble) {
  let lag: { method: string; path: string; ms: number } | null = null;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { lag = null; inner.reset(); },
    async handle(req) {
      const res = await inner.handle(req);
      const l = lag;
      if (l && req.method === l.method && new URL(req.url).pathname === l.path) {
        lag = null;
        await sleep(l.ms);
      }
      return res;
    },
  };
  return { double, holdAnswer: (method: string, path: string, ms: number) => { lag = { method, path, ms }; } };
}

async function withHarness<T>(options: SellsyDoubleOptions, run: (h: Harness<SellsySettings>) => Promise<T>): Promise<T> {
  const h = await startHarness(sellsy, createSellsyDouble(options));
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const pro = { client_type: "professionnel" as const, company_name: "ACME SARL", siren: "123456789" };

describe("sellsy settings", () => {
  it("is off without client credentials, defaults to Sellsy's URLs, and names the variable that is wrong", () => {
    expect(sellsy.settings({})).toBeUndefined();
    expect(sellsy.settings({ SELLSY_CLIENT_ID: "id", SELLSY_CLIENT_SECRET: "secret" })).toEqual({
      clientId: "id", clientSecret: "secret", apiUrl: "https://api.sellsy.com/v2", tokenUrl: "https://login.sellsy.com/oauth2/access-tokens",
    });
    expect(() => sellsy.settings({ SELLSY_CLIENT_ID: "id" })).toThrow(/SELLSY_CLIENT_SECRET/);
    expect(() => sellsy.settings({ SELLSY_CLIENT_SECRET: "s" })).toThrow(/SELLSY_CLIENT_ID/);
    expect(() => sellsy.settings({ SELLSY_API_URL: "https://api.sellsy.com/v2" })).toThrow(/SELLSY_CLIENT_ID/);
    expect(() => sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s", SELLSY_API_URL: "nope" })).toThrow(/SELLSY_API_URL/);
    expect(() => sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s", SELLSY_STEP_ID: "3" })).toThrow(/SELLSY_PIPELINE_ID/);
    expect(() => sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s", SELLSY_PIPELINE_ID: "x" })).toThrow(/SELLSY_PIPELINE_ID/);
    expect(sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s", SELLSY_PIPELINE_ID: "7", SELLSY_STEP_ID: "9" })).toMatchObject({ pipelineId: 7, stepId: 9 });
    expect(() => sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s", SELLSY_RATE_LIMIT: "-1" })).toThrow(/SELLSY_RATE_LIMIT/);
  });

  it("paces under the documented 5 requests a second", () => {
    const pace = sellsy.rateLimit(sellsy.settings({ SELLSY_CLIENT_ID: "i", SELLSY_CLIENT_SECRET: "s" })!);
    expect(pace.perSecond * 5).toBeLessThanOrEqual(5); // a new particulier request: about 5 calls
    expect(pace.burst).toBeGreaterThanOrEqual(1);
  });
});

describe("sellsy against its double", () => {
  const lag = lagging(createSellsyDouble());
  let h: Harness<SellsySettings>;
  const state = () => h.double.double.state() as unknown as State;

  beforeAll(async () => { h = await startHarness(sellsy, lag.double); });
  afterAll(() => h.close());
  beforeEach(() => {
    h.double.reset();
    h.remembered.clear();
    forgetSellsyTokens();
  });
  const deliver = (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);
  const paths = () => h.double.calls().map((c) => `${c.method} ${c.path}`);

  it("a lead: a token by client credentials, then one individual (prospect) found by email or created", async () => {
    const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie" });
    expect((await deliver(event)).kind).toBe("delivered");
    const { individuals } = state();
    expect(individuals).toEqual([expect.objectContaining({ type: "prospect", email: "marie.curie@example.fr", first_name: "Marie", last_name: "Curie", mobile_number: "+33612345678" })]);
    expect(individuals[0].note).toContain(event.recordId);
    expect(paths()).toEqual(["POST /oauth2/access-tokens", "POST /v2/individuals/search", "POST /v2/individuals"]);
    const token = h.double.calls()[0];
    expect(token.body).toBe(`grant_type=client_credentials&client_id=${LOCAL_SELLSY_CLIENT_ID}&client_secret=${LOCAL_SELLSY_CLIENT_SECRET}`);
    expect(h.double.calls()[1].body).toEqual({ filters: { email: "marie.curie@example.fr" } });
    expect(h.double.calls()[2].headers.authorization).toMatch(/^Bearer \w+$/);
  });

  it("the lead's next snapshot updates the same individual (PUT), the token is reused", async () => {
    const first = leadEvent({ lastname: "Curie" });
    expect((await deliver(first)).kind).toBe("delivered");
    expect((await deliver(nextEvent(first, { lastName: "Skłodowska" }))).kind).toBe("delivered");
    expect(state().individuals).toHaveLength(1);
    expect(state().individuals[0].last_name).toBe("Skłodowska");
    expect(paths().slice(3)).toEqual([`PUT /v2/individuals/${state().individuals[0].id}`]);
  });

  it("a call-back: a contact found by mobile number or created; a second call-back from that phone is the same contact", async () => {
    expect((await deliver(callbackEvent({ full_name: "Ana Lopez", phone: "06 98 76 54 32" }))).kind).toBe("delivered");
    expect((await deliver(callbackEvent({ full_name: "Ana Lopez", phone: "+33698765432" }))).kind).toBe("delivered");
    expect(state().contacts).toEqual([expect.objectContaining({ first_name: "Ana", last_name: "Lopez", mobile_number: "+33698765432", email: null })]);
    expect(state().individuals).toHaveLength(0);
  });

  it("a particulier's request: individual + one opportunity, status following the payment (pending → paid → refunded)", async () => {
    const pending = requestEvent({ payment_status: "pending" });
    expect((await deliver(pending)).kind).toBe("delivered");
    let [opp] = state().opportunities;
    const [ind] = state().individuals;
    expect(opp).toMatchObject({ status: "open", pipeline: 1, step: 11, related: [{ type: "individual", id: ind.id }] });
    expect(opp.name).toContain(pending.recordId);

    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
    expect((await deliver(paid)).kind).toBe("delivered");
    expect(state().opportunities[0]).toMatchObject({ status: "won", amount: "99.00" });
    expect((await deliver(nextEvent(paid, { payment_status: "refunded" }))).kind).toBe("delivered");
    [opp] = state().opportunities;
    expect(state().opportunities).toHaveLength(1);
    expect(state().individuals).toHaveLength(1);
    expect(opp).toMatchObject({ status: "lost", amount: "99.00" });
    expect(h.double.calls().filter((c) => c.status === 200 && `${c.method} ${c.path}` === `PUT /v2/opportunities/${opp.id}`)).toHaveLength(2);
  });

  it("a professionnel's request: a company (with its SIREN), its linked contact, the opportunity on the company", async () => {
    const event = requestEvent({ ...pro, email: "jean@acme.fr", full_name: "Jean Dupont" });
    expect((await deliver(event)).kind).toBe("delivered");
    const { companies, contacts, opportunities, individuals } = state();
    expect(companies).toEqual([expect.objectContaining({ type: "prospect", name: "ACME SARL", email: "jean@acme.fr", legal_france: { siren: "123456789" } })]);
    expect(contacts).toEqual([expect.objectContaining({ first_name: "Jean", last_name: "Dupont", email: "jean@acme.fr", companies: [companies[0].id] })]);
    expect(opportunities).toEqual([expect.objectContaining({ related: [{ type: "company", id: companies[0].id }], contact_ids: [contacts[0].id] })]);
    expect(individuals).toHaveLength(0);
    expect((await deliver(nextEvent(event, { payment_status: "paid" }))).kind).toBe("delivered");
    expect(state().companies).toHaveLength(1);
    expect(state().contacts).toHaveLength(1);
    expect(state().opportunities).toEqual([expect.objectContaining({ status: "won" })]);
  });

  it("a lead then a request of the same person: one individual", async () => {
    expect((await deliver(leadEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    expect((await deliver(requestEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
    expect(state().individuals).toHaveLength(1);
    expect(state().opportunities).toHaveLength(1);
  });

  it("retry after a timeout (the opportunity's answer lost): found again by its name on the individual, no duplicate", async () => {
    const event = requestEvent();
    lag.holdAnswer("POST", "/v2/opportunities", 800);
    expect(await deliver(event, { timeoutMs: 300 })).toMatchObject({ kind: "retry", httpStatus: null });
    expect(state().opportunities).toHaveLength(1); // Sellsy did create it
    expect(h.remembered.get(`${event.recordId}/opportunity`)).toBeUndefined();
    await sleep(600);
    expect((await deliver(nextEvent(event, { payment_status: "paid" }))).kind).toBe("delivered");
    expect(state().opportunities).toEqual([expect.objectContaining({ status: "won" })]);
    expect(state().individuals).toHaveLength(1);
    expect(h.remembered.get(`${event.recordId}/opportunity`)).toBe(String(state().opportunities[0].id));
  });

  it("retry after a timeout (the individual's creation answer lost): found by email, no duplicate", async () => {
    const event = requestEvent();
    lag.holdAnswer("POST", "/v2/individuals", 800);
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(state().individuals).toHaveLength(1);
    expect(state().opportunities).toHaveLength(1);
  });

  it("retry after a timeout (slow fault on the opportunity): no duplicate", async () => {
    const event = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/v2/opportunities", times: 1 });
    expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
    await sleep(600);
    expect((await deliver(event)).kind).toBe("delivered");
    expect(state().opportunities).toHaveLength(1);
  });

  it("restart between two calls (the opportunity's path down): the remembered company and contact are reused", async () => {
    const event = requestEvent({ ...pro });
    h.double.setFaults({ mode: "down", path: "/v2/opportunities", times: 1 });
    expect(await deliver(event)).toMatchObject({ kind: "retry", httpStatus: null });
    expect(h.remembered.get(`${event.recordId}/company`)).toBe(String(state().companies[0].id));
    expect(state().opportunities).toHaveLength(0);
    expect((await deliver(event)).kind).toBe("delivered");
    const { companies, contacts, opportunities } = state();
    expect([companies.length, contacts.length, opportunities.length]).toEqual([1, 1, 1]);
    expect(paths().filter((p) => p === "POST /v2/companies/search")).toHaveLength(1);
  });

  it("restart after the link, before it was remembered: 409 (already linked) is not an error", async () => {
    const event = requestEvent({ ...pro });
    expect((await deliver(event)).kind).toBe("delivered");
    h.remembered.delete(`${event.recordId}/company-contact`);
    expect((await deliver(nextEvent(event, { payment_status: "paid" }))).kind).toBe("delivered");
    expect(h.double.calls().some((c) => c.status === 409)).toBe(true);
    expect(state().contacts[0].companies).toHaveLength(1);
  });

  it("an expired token is renewed once and the call made again", async () => {
    const event = leadEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    h.double.double.reset(); // every token Sellsy issued is now unknown; records too
    h.remembered.clear();
    expect((await deliver(leadEvent())).kind).toBe("delivered");
    const after = paths().slice(3);
    expect(after).toEqual(["POST /v2/individuals/search", "POST /oauth2/access-tokens", "POST /v2/individuals/search", "POST /v2/individuals"]);
  });

  it("Sellsy's validation (400) is dead with its message and details", async () => {
    const outcome = await deliver(leadEvent({ email: "not-an-email" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect((outcome as { error: string }).error).toMatch(/POST \/individuals: HTTP 400 — Validation failed \(email: This value is not a valid email address\.\)/);
  });

  it("a remembered opportunity deleted at Sellsy (404) is dead with the reason", async () => {
    const event = requestEvent();
    expect((await deliver(event)).kind).toBe("delivered");
    const tokenState = h.remembered.get(`${event.recordId}/opportunity`);
    expect(tokenState).toBeDefined();
    h.remembered.set(`${event.recordId}/opportunity`, "999999");
    const outcome = await deliver(nextEvent(event, { payment_status: "paid" }));
    expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
    expect((outcome as { error: string }).error).toMatch(/PUT \/opportunities\/999999: HTTP 404 — Opportunity not found/);
  });

  it("wrong client credentials pause with the variables to fix; 402/403 pause; 5xx retries", async () => {
    const wrong = await h.deliver(leadEvent(), { settings: { ...h.settings, clientSecret: "wrong", clientId: "other" } });
    expect(wrong).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect((wrong as { reason: string }).reason).toMatch(/SELLSY_CLIENT_ID and SELLSY_CLIENT_SECRET/);
    for (const status of [402, 403]) {
      h.double.setFaults({ mode: "reject", status, path: "/v2/", times: 1 });
      expect(await deliver(leadEvent())).toMatchObject({ kind: "pause", httpStatus: status });
    }
    h.double.setFaults({ mode: "error", status: 502, path: "/v2/", times: 1 });
    expect(await deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 502 });
  });

  it("test(): credentials accepted, nothing created; a wrong secret and a wrong URL are told apart", async () => {
    expect(await h.test()).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(paths()).toEqual(["POST /oauth2/access-tokens", "GET /v2/scopes"]);
    expect(state()).toEqual({ individuals: [], contacts: [], companies: [], opportunities: [] });
    expect(await h.test({ ...h.settings, clientSecret: "bad" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    expect(await h.test({ ...h.settings, apiUrl: `${h.server.url}/sellsy/elsewhere` })).toMatchObject({ ok: false, reachable: true, httpStatus: 404 });
    const closed = await h.test({ ...h.settings, tokenUrl: "http://127.0.0.1:9/oauth2/access-tokens", clientId: "x" });
    expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    expect(closed.message).toMatch(/SELLSY_TOKEN_URL/);
  });
});

describe("sellsy quotas (the double's documented 429s)", () => {
  it("over 5 requests a second: 429 with X-Quota-Remaining-By-Second: 0 → waits for the next second (at most 3 times), then retry", () =>
    withHarness({ perSecond: 5 }, async (h) => {
      forgetSellsyTokens();
      // A professionnel's new request needs 8 API calls: the 6th waits a second, then all go through.
      expect((await h.deliver(requestEvent({ ...pro })))).toMatchObject({ kind: "delivered" });
      expect(h.double.calls().filter((c) => c.status === 429).length).toBeGreaterThanOrEqual(1);
      const { opportunities, companies } = h.double.double.state() as unknown as State;
      expect([opportunities.length, companies.length]).toEqual([1, 1]);
    }));

  it("the per-second quota still spent after 3 waits: retry after a second", () =>
    withHarness({ perSecond: 1 }, async (h) => {
      forgetSellsyTokens();
      const outcome = await h.deliver(requestEvent({ ...pro }));
      expect(outcome).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 1000 });
      expect(h.double.calls().at(-1)!.status).toBe(429);
    }));

  it("the daily quota spent (X-Quota-Remaining-By-Day: 0): throttled until the next day", () =>
    withHarness({ perDay: 1 }, async (h) => {
      forgetSellsyTokens();
      const before = Date.now();
      const outcome = await h.deliver(leadEvent());
      expect(outcome.kind).toBe("throttled");
      expect([nextUtcMidnight(before), nextUtcMidnight(Date.now())]).toContain((outcome as { resumeAt: number }).resumeAt);
    }));

  it("the error shape and the quota headers are classified as documented", () => {
    const body = JSON.stringify({ error: { code: 429, message: "Quotas of requests reached", context: "quota", details: {} } });
    const now = Date.UTC(2025, 0, 31, 12);
    expect(classifySellsy(new Response("", { status: 429, headers: { "x-quota-remaining-by-minute": "0", "x-quota-remaining-by-day": "5" } }), body, "GET /x", now))
      .toMatchObject({ kind: "retry", retryAfterMs: 60_000 });
    expect(classifySellsy(new Response("", { status: 429, headers: { "x-quota-remaining-by-month": "0" } }), body, "GET /x", now))
      .toMatchObject({ kind: "throttled", resumeAt: Date.UTC(2025, 1, 1) });
    expect(classifySellsy(new Response("", { status: 409 }), JSON.stringify({ error: { code: 409, message: "Conflict" } }), "POST /x", now))
      .toMatchObject({ kind: "dead", error: "POST /x: HTTP 409 — Conflict" });
  });
});

describe("the double enforces Sellsy's documented rules", () => {
  let h: Harness<SellsySettings>;
  let token = "";
  beforeAll(async () => {
    h = await startHarness(sellsy, createSellsyDouble({ perSecond: 1000 }));
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    h.double.reset();
    const res = await fetch(h.settings.tokenUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=client_credentials&client_id=${LOCAL_SELLSY_CLIENT_ID}&client_secret=${LOCAL_SELLSY_CLIENT_SECRET}` });
    const body = (await res.json()) as { token_type: string; access_token: string; expires_in: number };
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 86400 });
    token = body.access_token;
  });
  const post = (path: string, body: unknown, t: string | null = token) =>
    fetch(`${h.settings.apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: JSON.stringify(body) });

  it("Bearer token required: 401 in Sellsy's error shape; the quota headers on every answer", async () => {
    const res = await post("/individuals/search", { filters: {} }, null);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 401, message: expect.any(String) } });
    const ok = await post("/individuals/search", { filters: {} });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-quota-remaining-by-second")).toMatch(/^\d+$/);
    expect(ok.headers.get("x-quota-remaining-by-day")).toMatch(/^\d+$/);
  });

  it("required fields and formats: 400 with details per field", async () => {
    const missing = await post("/individuals", { type: "prospect" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: 400, details: { last_name: expect.any(String) } } });
    expect((await post("/individuals", { type: "lead", last_name: "X" })).status).toBe(400);
    expect((await post("/companies", { type: "prospect" })).status).toBe(400);
    expect((await post("/companies", { type: "prospect", name: "A", legal_france: { siren: "12" } })).status).toBe(400);
    expect((await post("/contacts", { first_name: "A" })).status).toBe(400);
    const ind = (await (await post("/individuals", { type: "prospect", last_name: "X" })).json()) as { id: number };
    expect((await post("/opportunities", { name: "O", related: [{ type: "individual", id: ind.id }] })).status).toBe(400);
    expect((await post("/opportunities", { name: "O", pipeline: 1, step: 99, related: [{ type: "individual", id: ind.id }] })).status).toBe(400);
    expect((await post("/opportunities", { name: "O", pipeline: 1, step: 11, related: [] })).status).toBe(400);
    expect((await post("/opportunities", { name: "O", pipeline: 1, step: 11, status: "paid", related: [{ type: "individual", id: ind.id }] })).status).toBe(400);
    expect((await post("/opportunities", { name: "O", pipeline: 1, step: 11, amount: 12, related: [{ type: "individual", id: ind.id }] })).status).toBe(400);
    expect((await post("/opportunities", { name: "O", pipeline: 1, step: 11, amount: "12.50", related: [{ type: "individual", id: ind.id }] })).status).toBe(201);
  });
});
