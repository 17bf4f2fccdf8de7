/**
 * The odoo destination against its double, through both APIs (JSON-2 and JSON-RPC).
 * The oracle is Odoo's documented API as the double enforces it (see double.ts): what
 * the double holds after a delivery (one partner per email/phone, one crm.lead per
 * record linked to it, won/lost following the payment) and how Odoo's documented
 * answers (401, 403, 404 NotFound/MissingError, 409, 422, 429, 5xx; JSON-RPC errors
 * inside HTTP 200) are classified.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import type { VendorDouble } from "../double-kit.ts";
import type { DeliveryEvent } from "../types.ts";
import { classifyJson2, classifyRpcError, forgetOdooSessions } from "./client.ts";
import { createOdooDouble, type OdooDoubleOptions } from "./double.ts";
import { LOCAL_ODOO_API_KEY, LOCAL_ODOO_DATABASE, LOCAL_ODOO_LOGIN, odoo, type OdooSettings } from "./index.ts";

interface Partner { id: number; name: string; email: string | false; phone: string | false; active: boolean }
interface Lead {
  id: number; name: string; type: string; partner_id: number | false; stage_id: number; probability: number; expected_revenue: number;
  active: boolean; description: string | false; email_from: string | false; phone: string | false; contact_name: string;
}
type State = { partners: Partner[]; leads: Lead[] };
const WON_STAGE = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The double with one call that can be held back, chosen by a predicate on the request:
 * "after" = Odoo acted but its answer never came back; "before" = the call never reached Odoo.
 */
function holding(inner: VendorDouble) {
  let hold: { match: (path: string, body: string) => boolean; ms: number; when: "before" | "after" } | null = null;
  const double: VendorDouble = {
    name: inner.name,
    state: () => inner.state(),
    reset: () => { hold = null; inner.reset(); },
    async handle(req) {
      const body = await req.clone().text();
      const h = hold && hold.match(new URL(req.url).pathname, body) ? hold : null;
      if (h) hold = null;
      // Never reaches Odoo: the client gave up long before this answer.
      if (h?.when === "before") { await sleep(h.ms); return new Response("upstream timed out", { status: 504 }); }
      const res = await inner.handle(req);
      if (h?.when === "after") await sleep(h.ms);
      return res;
    },
  };
  return {
    double,
    hold: (match: (path: string, body: string) => boolean, ms: number, when: "before" | "after") => { hold = { match, ms, when }; },
  };
}

/** JSON-2 path, or a JSON-RPC execute_kw of that model and method. */
const callOf = (model: string, method: string) => (path: string, body: string) =>
  path === `/json/2/${model}/${method}` || (path === "/jsonrpc" && body.includes(`"${model}","${method}"`));

async function withHarness<T>(options: OdooDoubleOptions, env: Record<string, string>, run: (h: Harness<OdooSettings>) => Promise<T>): Promise<T> {
  forgetOdooSessions();
  const h = await startHarness(odoo, createOdooDouble(options), env);
  try {
    return await run(h);
  } finally {
    await h.close();
  }
}

const json2 = (h: Harness<OdooSettings>, model: string, method: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.settings.url}/json/2/${model}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `bearer ${LOCAL_ODOO_API_KEY}`, ...headers },
    body: JSON.stringify(body),
  });

const jsonrpc = (h: Harness<OdooSettings>, service: string, method: string, args: unknown[]) =>
  fetch(`${h.settings.url}/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method: "call", params: { service, method, args }, id: 1 }),
  });

describe("odoo settings", () => {
  it("is off without ODOO_URL and ODOO_API_KEY, and names the variable that is wrong", () => {
    expect(odoo.settings({})).toBeUndefined();
    expect(odoo.settings({ ODOO_URL: "https://acme.odoo.com/", ODOO_API_KEY: "k1" })).toEqual({ url: "https://acme.odoo.com", apiKey: "k1", api: "json2" });
    expect(odoo.settings({ ODOO_URL: "https://erp.acme.fr", ODOO_API_KEY: "k", ODOO_DATABASE: "acme-prod" })).toMatchObject({ database: "acme-prod", api: "json2" });
    const cases: [Record<string, string>, RegExp][] = [
      [{ ODOO_API_KEY: "k" }, /ODOO_URL/],
      [{ ODOO_URL: "https://acme.odoo.com" }, /ODOO_API_KEY/],
      [{ ODOO_DATABASE: "x" }, /ODOO_DATABASE.*ODOO_URL/],
      [{ ODOO_URL: "not a url", ODOO_API_KEY: "k" }, /ODOO_URL/],
      [{ ODOO_URL: "ftp://acme.odoo.com", ODOO_API_KEY: "k" }, /ODOO_URL/],
      [{ ODOO_URL: "https://acme.odoo.com/json/2", ODOO_API_KEY: "k" }, /ODOO_URL.*json\/2/],
      [{ ODOO_URL: "https://acme.odoo.com/jsonrpc", ODOO_API_KEY: "k" }, /ODOO_URL/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "a b" }, /ODOO_API_KEY/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_API: "xmlrpc" }, /ODOO_API/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_API: "jsonrpc", ODOO_LOGIN: "a@b.fr" }, /ODOO_DATABASE/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_API: "jsonrpc", ODOO_DATABASE: "acme" }, /ODOO_LOGIN/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_DATABASE: "a b" }, /ODOO_DATABASE/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_RATE_LIMIT: "fast" }, /ODOO_RATE_LIMIT/],
      [{ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_RATE_LIMIT: "0" }, /ODOO_RATE_LIMIT/],
    ];
    for (const [env, error] of cases) expect(() => odoo.settings(env), JSON.stringify(env)).toThrow(error);
    expect(odoo.settings({ ODOO_URL: "http://odoo.local:8069", ODOO_API_KEY: "k", ODOO_API: "jsonrpc", ODOO_DATABASE: "acme", ODOO_LOGIN: "bot@acme.fr" }))
      .toEqual({ url: "http://odoo.local:8069", apiKey: "k", api: "jsonrpc", database: "acme", login: "bot@acme.fr" });
  });

  it("paces modestly (Odoo documents no limit): at most 10 calls a second, unless ODOO_RATE_LIMIT says otherwise", () => {
    const s = odoo.settings({ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k" })!;
    const pace = odoo.rateLimit(s);
    expect(pace.perSecond * odoo.maxCallsPerDelivery).toBeLessThanOrEqual(10);
    expect(pace.burst).toBeGreaterThanOrEqual(1);
    expect(odoo.rateLimit(odoo.settings({ ODOO_URL: "https://acme.odoo.com", ODOO_API_KEY: "k", ODOO_RATE_LIMIT: "5" })!)).toEqual({ perSecond: 5, burst: 10 });
  });
});

for (const api of ["json2", "jsonrpc"] as const) {
  describe(`odoo against its double (${api})`, () => {
    const held = holding(createOdooDouble());
    let h: Harness<OdooSettings>;
    const state = () => h.double.double.state() as unknown as State;
    const calls = () => h.double.calls();
    /** The model/method of every call (JSON-RPC: common.authenticate, or execute_kw's model and method). */
    const ops = () => calls().map((c) => {
      if (c.path !== "/jsonrpc") return c.path.replace("/json/2/", "");
      const p = (c.body as { params: { service: string; method: string; args: unknown[] } }).params;
      return p.service === "common" ? `common/${p.method}` : `${p.args[3]}/${p.args[4]}`;
    });

    beforeAll(async () => {
      h = await startHarness(odoo, held.double, api === "jsonrpc" ? { ODOO_API: "jsonrpc" } : {});
    });
    afterAll(() => h.close());
    beforeEach(() => {
      h.double.reset();
      h.remembered.clear();
      forgetOdooSessions();
    });

    const deliver = (event: DeliveryEvent, opts?: { timeoutMs?: number }) => h.deliver(event, opts);

    it("a lead: one partner found by exact email or created, one crm.lead linked to it (Odoo chooses its type)", async () => {
      const event = leadEvent({ email: "marie.curie@example.fr", firstname: "Marie", lastname: "Curie", postal_code: "75005" });
      expect((await deliver(event)).kind).toBe("delivered");

      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(partners[0]).toMatchObject({ name: "Marie Curie", email: "marie.curie@example.fr", phone: "+33612345678" });
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ partner_id: partners[0].id, type: "lead", email_from: "marie.curie@example.fr", active: true });
      expect(leads[0].name).toContain(`[${event.recordId}]`);
      expect(leads[0].description).toContain(`lovable-lead:${event.recordId}`);
      expect(h.remembered.get(`${event.recordId}/lead`)).toBe(String(leads[0].id));

      if (api === "json2") {
        expect(calls().every((c) => c.headers.authorization === `bearer ${LOCAL_ODOO_API_KEY}` && c.headers["x-odoo-database"] === LOCAL_ODOO_DATABASE)).toBe(true);
        expect(calls()[0].body).toMatchObject({ domain: [["email", "=ilike", "marie.curie@example.fr"]] });
      } else {
        expect(ops()[0]).toBe("common/authenticate");
        expect(calls().every((c) => c.path === "/jsonrpc")).toBe(true);
      }
    });

    it("the lead's next snapshot writes the same crm.lead: no second partner or lead", async () => {
      const first = leadEvent({ lastname: "Curie" });
      expect((await deliver(first)).kind).toBe("delivered");
      expect((await deliver(nextEvent(first, { lastName: "Skłodowska-Curie", serviceType: "definitif" }))).kind).toBe("delivered");

      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
      expect(leads[0].name).toContain("Skłodowska-Curie");
      expect(leads[0].name).toContain("definitif");
      expect(ops().filter((o) => o === "crm.lead/write")).toHaveLength(1);
      expect(ops().filter((o) => o === "crm.lead/create")).toHaveLength(1);
    });

    it("an exact, case-insensitive email match: `_` and `%` in an address are not wildcards", async () => {
      expect((await deliver(leadEvent({ email: "jeanXdupont@example.fr" }))).kind).toBe("delivered");
      expect((await deliver(leadEvent({ email: "xmarie@example.fr" }))).kind).toBe("delivered");
      expect((await deliver(leadEvent({ email: "jean_dupont@example.fr" }))).kind).toBe("delivered");
      expect((await deliver(leadEvent({ email: "marie@example.fr" }))).kind).toBe("delivered");
      expect((await deliver(leadEvent({ email: "MARIE@example.fr" }))).kind).toBe("delivered");

      const { partners, leads } = state();
      expect(partners.map((p) => p.email).sort()).toEqual(["jeanXdupont@example.fr", "jean_dupont@example.fr", "marie@example.fr", "xmarie@example.fr"]);
      const marie = partners.find((p) => p.email === "marie@example.fr")!;
      expect(leads.filter((l) => l.partner_id === marie.id)).toHaveLength(2);
    });

    it("a call-back: a partner found by exact phone or created (no email), one crm.lead per call-back", async () => {
      const a = callbackEvent({ phone: "+33698765432", full_name: "Ana Lopez Garcia" });
      const b = callbackEvent({ phone: "+33698765432", full_name: "Ana Lopez" });
      expect((await deliver(a)).kind).toBe("delivered");
      expect((await deliver(b)).kind).toBe("delivered");

      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(partners[0]).toMatchObject({ name: "Ana Lopez Garcia", email: false, phone: "+33698765432" });
      expect(leads).toHaveLength(2);
      expect(leads.every((l) => l.partner_id === partners[0].id && l.phone === "+33698765432")).toBe(true);
      expect(leads[0].name).toMatch(/^Rappel demandé/);
    });

    it("a request: one opportunity, open while pending, won when paid, lost (archived) when refunded — the same crm.lead", async () => {
      const pending = requestEvent({ email: "jean.dupont@example.fr", full_name: "Jean Dupont", payment_status: "pending" });
      expect((await deliver(pending)).kind).toBe("delivered");
      let { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ type: "opportunity", partner_id: partners[0].id, stage_id: 1, active: true, expected_revenue: 0 });

      const paid = nextEvent(pending, { status: "paid", payment_status: "paid", payment_intent_id: "pi_test_1", amount: 15000, currency: "eur" });
      expect((await deliver(paid)).kind).toBe("delivered");
      ({ leads } = state());
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ stage_id: WON_STAGE, probability: 100, expected_revenue: 150, active: true });
      expect(leads[0].description).toContain("pi_test_1");

      const refunded = nextEvent(paid, { payment_status: "refunded" });
      expect((await deliver(refunded)).kind).toBe("delivered");
      ({ partners, leads } = state());
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ active: false, probability: 0 });
      expect(ops().filter((o) => o === "crm.lead/create")).toHaveLength(1);
      expect(ops().filter((o) => o === "crm.lead/action_set_won")).toHaveLength(1);
      expect(ops().filter((o) => o === "crm.lead/action_set_lost")).toHaveLength(1);
    });

    it("a lead and a request of the same person share the partner", async () => {
      expect((await deliver(leadEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
      expect((await deliver(requestEvent({ email: "same@example.fr" }))).kind).toBe("delivered");
      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads.map((l) => l.partner_id)).toEqual([partners[0].id, partners[0].id]);
    });

    it("retry after a timeout (Odoo slower than the time limit): no duplicate", async () => {
      const event = requestEvent();
      if (api === "json2") h.double.setFaults({ mode: "slow", delayMs: 800, path: "/json/2/crm.lead", times: 1 });
      else held.hold(callOf("crm.lead", "create"), 800, "before");
      const first = await deliver(event, { timeoutMs: 300 });
      expect(first).toMatchObject({ kind: "retry", httpStatus: null });
      await sleep(600);
      expect((await deliver(event)).kind).toBe("delivered");
      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
    });

    it("a crm.lead created in Odoo whose answer was lost is found again by its reference, not created twice", async () => {
      const event = requestEvent({ payment_status: "pending" });
      held.hold(callOf("crm.lead", "create"), 800, "after");
      expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
      expect(state().leads).toHaveLength(1); // Odoo did create it
      expect(h.remembered.get(`${event.recordId}/lead`)).toBeUndefined();
      await sleep(600);

      const paid = nextEvent(event, { payment_status: "paid", payment_intent_id: "pi_1", amount: 9900, currency: "eur" });
      expect((await deliver(paid)).kind).toBe("delivered");
      const { leads } = state();
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ stage_id: WON_STAGE, expected_revenue: 99 });
      expect(h.remembered.get(`${event.recordId}/lead`)).toBe(String(leads[0].id));
    });

    it("…even when a user renamed and archived it in Odoo meanwhile (description marker, archived included)", async () => {
      const event = leadEvent();
      held.hold(callOf("crm.lead", "create"), 800, "after");
      expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
      await sleep(600);
      const id = state().leads[0].id;
      // A salesperson renames it and marks it lost (archived).
      expect((await json2(h, "crm.lead", "write", { ids: [id], vals: { name: "Appeler lundi" } })).status).toBe(200);
      expect((await json2(h, "crm.lead", "action_set_lost", { ids: [id] })).status).toBe(200);

      expect((await deliver(event)).kind).toBe("delivered");
      const { leads } = state();
      expect(leads).toHaveLength(1);
      expect(h.remembered.get(`${event.recordId}/lead`)).toBe(String(id));
    });

    it("a partner created in Odoo whose answer was lost is found again by email, not created twice", async () => {
      const event = requestEvent();
      held.hold(callOf("res.partner", "create"), 800, "after");
      expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
      expect(state().partners).toHaveLength(1);
      await sleep(600);
      expect((await deliver(event)).kind).toBe("delivered");
      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
      expect(leads[0].partner_id).toBe(partners[0].id);
    });

    it("restart between two calls (the crm.lead call never arrives): the remembered partner is reused, no duplicate", async () => {
      const event = callbackEvent();
      if (api === "json2") h.double.setFaults({ mode: "down", path: "/json/2/crm.lead", times: 1 });
      else held.hold(callOf("crm.lead", "create"), 800, "before");
      const first = await deliver(event, { timeoutMs: 300 });
      expect(first.kind).toBe("retry");
      expect(h.remembered.get(`${event.recordId}/partner`)).toBe(String(state().partners[0].id));
      if (api === "jsonrpc") await sleep(600);
      expect(state().leads).toHaveLength(0);

      expect((await deliver(event)).kind).toBe("delivered");
      const { partners, leads } = state();
      expect(partners).toHaveLength(1);
      expect(leads).toHaveLength(1);
      expect(ops().filter((o) => o === "res.partner/search_read")).toHaveLength(1);
    });

    it("a kill between creating the opportunity and marking it won: the next attempt writes and wins the same one", async () => {
      const event = requestEvent({ payment_status: "paid", payment: { payment_intent_id: "pi_2", amount: 5000, currency: "eur" } });
      if (api === "json2") h.double.setFaults({ mode: "down", path: "/action_set_won", times: 1 });
      else held.hold(callOf("crm.lead", "action_set_won"), 800, "before");
      expect((await deliver(event, { timeoutMs: 300 })).kind).toBe("retry");
      if (api === "jsonrpc") await sleep(600);
      expect(state().leads[0]).toMatchObject({ stage_id: 1 });
      expect((await deliver(event)).kind).toBe("delivered");
      const { leads } = state();
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ stage_id: WON_STAGE, probability: 100, expected_revenue: 50 });
    });

    it("a remembered crm.lead deleted in Odoo (MissingError) is dead, with the reason", async () => {
      const event = requestEvent();
      expect((await deliver(event)).kind).toBe("delivered");
      h.double.double.reset(); // everything deleted in Odoo; the ids stay remembered
      forgetOdooSessions();
      const outcome = await deliver(nextEvent(event, { payment_status: "paid" }));
      expect(outcome).toMatchObject({ kind: "dead" });
      expect((outcome as { error: string }).error).toMatch(/crm\.lead\/write.*MissingError.*deleted in Odoo/s);
    });

    it("an event without the key of its partner is dead before any call", async () => {
      const event = leadEvent();
      const outcome = await deliver({ ...event, data: { ...event.data, email: null } });
      expect(outcome).toMatchObject({ kind: "dead", httpStatus: null });
      expect((outcome as { error: string }).error).toMatch(/email/);
      expect(calls()).toHaveLength(0);
    });

    it("a wrong API key pauses the destination, naming the variable to fix", async () => {
      const refused = await h.deliver(leadEvent(), { settings: { ...h.settings, apiKey: "wrong-key" } });
      expect(refused).toMatchObject({ kind: "pause", httpStatus: api === "json2" ? 401 : 200 });
      expect((refused as { reason: string }).reason).toMatch(/ODOO_API_KEY/);
      expect(state().partners).toHaveLength(0);
    });

    it("test(): credentials accepted and CRM present, creates nothing; a wrong key and a wrong URL are told apart", async () => {
      const good = await h.test();
      expect(good).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
      expect(state()).toEqual({ partners: [], leads: [] });
      expect(ops()).toEqual(api === "json2" ? ["res.users/context_get", "crm.lead/search_count"] : ["common/authenticate", "crm.lead/search_count"]);

      forgetOdooSessions();
      expect(await h.test({ ...h.settings, apiKey: "wrong" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false });
      const elsewhere = await h.test({ ...h.settings, url: `${h.server.url}/elsewhere` });
      expect(elsewhere).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
      expect(elsewhere.message).toMatch(/ODOO_URL/);
      const closed = await h.test({ ...h.settings, url: "http://127.0.0.1:9" });
      expect(closed).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
      expect(closed.message).toMatch(/ODOO_URL/);
    });
  });
}

describe("odoo answers classified as documented (JSON-2)", () => {
  let h: Harness<OdooSettings>;
  beforeAll(async () => { h = await startHarness(odoo, createOdooDouble()); });
  afterAll(() => h.close());
  beforeEach(() => { h.double.reset(); h.remembered.clear(); });

  it("403 access error and 422 validation are dead; 409 lock, 429 and 5xx retry (honouring Retry-After)", async () => {
    h.double.setFaults({ mode: "reject", status: 403, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "dead", httpStatus: 403 });
    h.double.setFaults({ mode: "reject", status: 422, path: "/json/2/crm.lead/create", times: 1 });
    const rejected = await h.deliver(leadEvent());
    expect(rejected).toMatchObject({ kind: "dead", httpStatus: 422 });
    expect((rejected as { error: string }).error).toMatch(/^crm\.lead\/create: HTTP 422/);
    h.double.setFaults({ mode: "reject", status: 409, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 409 });
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "throttle", retryAfter: 7, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 7000 });
  });

  it("Odoo's own error answers: ValidationError 422 dead with its message, ValueError 500 dead, unknown model 404 dead with a hint", async () => {
    const noName = await json2(h, "crm.lead", "create", { vals_list: [{ type: "opportunity" }] });
    expect(noName.status).toBe(422);
    const text = await noName.text();
    expect(JSON.parse(text)).toMatchObject({ name: "odoo.exceptions.ValidationError", message: expect.stringMatching(/mandatory field/), arguments: expect.any(Array), context: {}, debug: expect.any(String) });
    expect(classifyJson2(noName, text, "crm.lead/create")).toMatchObject({ kind: "dead", httpStatus: 422, error: expect.stringMatching(/ValidationError — The operation cannot be completed/) });

    const badField = await json2(h, "crm.lead", "create", { vals_list: [{ name: "x", x_studio_source: "site" }] });
    expect(badField.status).toBe(500);
    const badText = await badField.text();
    expect(JSON.parse(badText)).toMatchObject({ name: "builtins.ValueError" });
    expect(classifyJson2(badField, badText, "crm.lead/create")).toMatchObject({ kind: "dead", httpStatus: 500 });

    const noModel = await json2(h, "crm.leads", "create", { vals_list: [{ name: "x" }] });
    expect(noModel.status).toBe(404);
    const noModelText = await noModel.text();
    expect(JSON.parse(noModelText)).toMatchObject({ name: "werkzeug.exceptions.NotFound" });
    expect(classifyJson2(noModel, noModelText, "crm.leads/create")).toMatchObject({ kind: "dead", error: expect.stringMatching(/CRM app installed.*ODOO_API=jsonrpc/) });

    // A 500 that is not a deterministic ValueError (e.g. a database hiccup) is retried.
    const hiccup = new Response("", { status: 500 });
    expect(classifyJson2(hiccup, JSON.stringify({ name: "psycopg2.errors.SerializationFailure", message: "could not serialize access" }), "x/y")).toMatchObject({ kind: "retry" });
  });

  it("an Odoo before 19 (no /json/2) is dead with the hint to use ODOO_API=jsonrpc", () =>
    withHarness({ json2: false }, {}, async (h17) => {
      const outcome = await h17.deliver(leadEvent());
      expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
      expect((outcome as { error: string }).error).toMatch(/ODOO_API=jsonrpc/);
      const check = await h17.test();
      expect(check).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
      expect(check.message).toMatch(/ODOO_API=jsonrpc/);
      // …and the same instance works through JSON-RPC.
      forgetOdooSessions();
      const rpcSettings = odoo.settings({ ...odoo.localEnv(h17.server.urlOf("odoo")), ODOO_API: "jsonrpc" })!;
      expect((await h17.deliver(leadEvent(), { settings: rpcSettings })).kind).toBe("delivered");
      expect((h17.double.double.state() as unknown as State).leads).toHaveLength(1);
    }));

  it("a server with several databases needs ODOO_DATABASE (X-Odoo-Database): without it, dead with the hint", () =>
    withHarness({ databases: ["acme", "acme-test"] }, { ODOO_DATABASE: "" }, async (hm) => {
      const outcome = await hm.deliver(leadEvent());
      expect(outcome).toMatchObject({ kind: "dead", httpStatus: 404 });
      expect((outcome as { error: string }).error).toMatch(/ODOO_DATABASE/);
      const ok = await hm.deliver(leadEvent(), { settings: { ...hm.settings, database: "acme-test" } });
      expect(ok.kind).toBe("delivered");
      expect(hm.double.calls().at(-1)!.headers["x-odoo-database"]).toBe("acme-test");
    }));

  it("the front proxy's 429 (Retry-After) is retried after the wait it gives", () =>
    withHarness({ callsPerSecond: 2 }, {}, async (hr) => {
      const outcome = await hr.deliver(leadEvent()); // search, create partner, create lead: the third is refused
      expect(outcome).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 1000 });
    }));
});

describe("odoo answers classified as documented (JSON-RPC: errors inside HTTP 200)", () => {
  it("Odoo's errors: ValidationError dead, unknown model dead with a hint, AccessDenied pauses, an unknown database pauses", () =>
    withHarness({}, { ODOO_API: "jsonrpc" }, async (h) => {
      const auth = await (await jsonrpc(h, "common", "authenticate", [LOCAL_ODOO_DATABASE, LOCAL_ODOO_LOGIN, LOCAL_ODOO_API_KEY, {}])).json() as { result: number };
      const uid = auth.result;
      expect(uid).toBeGreaterThan(0);

      const exec = async (args: unknown[]) => {
        const res = await jsonrpc(h, "object", "execute_kw", args);
        expect(res.status).toBe(200);
        const text = await res.text();
        return { text, body: JSON.parse(text) as { error?: { code: number; message: string; data: { name: string } } } };
      };
      const noName = await exec([LOCAL_ODOO_DATABASE, uid, LOCAL_ODOO_API_KEY, "crm.lead", "create", [[{ type: "lead" }]], {}]);
      expect(noName.body.error).toMatchObject({ code: 200, message: "Odoo Server Error", data: { name: "odoo.exceptions.ValidationError" } });
      expect(classifyRpcError(noName.body.error, noName.text, "crm.lead/create")).toMatchObject({ kind: "dead", httpStatus: 200 });

      const noModel = await exec([LOCAL_ODOO_DATABASE, uid, LOCAL_ODOO_API_KEY, "crm.leads", "create", [[{ name: "x" }]], {}]);
      expect(noModel.body.error?.data.name).toBe("builtins.KeyError");
      expect(classifyRpcError(noModel.body.error, noModel.text, "crm.leads/create")).toMatchObject({ kind: "dead", error: expect.stringMatching(/CRM app installed/) });

      const denied = await exec([LOCAL_ODOO_DATABASE, uid, "wrong", "crm.lead", "search_count", [[]], {}]);
      expect(denied.body.error?.data.name).toBe("odoo.exceptions.AccessDenied");
      expect(classifyRpcError(denied.body.error, denied.text, "crm.lead/search_count")).toMatchObject({ kind: "pause", reason: expect.stringMatching(/ODOO_LOGIN/) });

      const lock = { code: 200, message: "Odoo Server Error", data: { name: "odoo.exceptions.LockError", message: "could not obtain lock" } };
      expect(classifyRpcError(lock, JSON.stringify({ error: lock }), "crm.lead/write")).toMatchObject({ kind: "retry" });

      const wrongDb = await h.deliver(leadEvent(), { settings: { ...h.settings, database: "nope" } });
      expect(wrongDb).toMatchObject({ kind: "pause", reason: expect.stringMatching(/ODOO_DATABASE/) });
      const check = await h.test({ ...h.settings, database: "nope" });
      expect(check).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null });
      expect(check.message).toMatch(/ODOO_DATABASE/);
    }));

  it("authenticates once per process, not per delivery", () =>
    withHarness({}, { ODOO_API: "jsonrpc" }, async (h) => {
      for (let i = 0; i < 3; i++) expect((await h.deliver(leadEvent())).kind).toBe("delivered");
      const auths = h.double.calls().filter((c) => (c.body as { params: { service: string } }).params.service === "common");
      expect(auths).toHaveLength(1);
    }));
});

describe("the double enforces Odoo's documented rules", () => {
  let h: Harness<OdooSettings>;
  beforeAll(async () => { h = await startHarness(odoo, createOdooDouble()); });
  afterAll(() => h.close());
  beforeEach(() => h.double.reset());

  it("JSON-2: bearer API key (401 in Odoo's error shape), POST only, a JSON object body", async () => {
    for (const headers of [{ authorization: "" }, { authorization: "bearer nope" }, { authorization: LOCAL_ODOO_API_KEY }]) {
      const res = await json2(h, "res.partner", "search_count", { domain: [] }, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ name: "werkzeug.exceptions.Unauthorized", message: "Invalid apikey", arguments: ["Invalid apikey", 401] });
    }
    expect((await json2(h, "res.partner", "search_count", { domain: [] }, { authorization: `Bearer ${LOCAL_ODOO_API_KEY}` })).status).toBe(200);
    const get = await fetch(`${h.settings.url}/json/2/res.partner/search_count`, { headers: { authorization: `bearer ${LOCAL_ODOO_API_KEY}` } });
    expect(get.status).toBe(405);
    const notObject = await fetch(`${h.settings.url}/json/2/res.partner/search_count`, { method: "POST", headers: { authorization: `bearer ${LOCAL_ODOO_API_KEY}`, "content-type": "application/json" }, body: "[1]" });
    expect(notObject.status).toBe(400);
  });

  it("JSON-2: unknown model or method 404; ids on an @api.model method, unknown or missing arguments 422", async () => {
    expect((await json2(h, "crm.nothing", "search_count", { domain: [] })).status).toBe(404);
    expect((await json2(h, "crm.lead", "unlink_all", {})).status).toBe(404);
    expect((await json2(h, "crm.lead", "_read_group", {})).status).toBe(404);
    const withIds = await json2(h, "res.partner", "create", { ids: [1], vals_list: [{ name: "A" }] });
    expect(withIds.status).toBe(422);
    expect(await withIds.json()).toMatchObject({ name: "werkzeug.exceptions.UnprocessableEntity", message: "cannot call res.partner.create with ids" });
    expect((await json2(h, "res.partner", "create", { values: [{ name: "A" }] })).status).toBe(422);
    expect((await json2(h, "res.partner", "write", { ids: [1] })).status).toBe(422);
    expect(h.double.double.state()).toEqual({ partners: [], leads: [] });
  });

  it("the ORM: name required (422), unknown fields or wrong values ValueError (500), writing a missing record MissingError (404)", async () => {
    const noName = await json2(h, "res.partner", "create", { vals_list: [{ email: "a@example.fr" }] });
    expect(noName.status).toBe(422);
    expect(await noName.json()).toMatchObject({ name: "odoo.exceptions.ValidationError", message: "Contacts require a name" });
    expect((await json2(h, "crm.lead", "create", { vals_list: [{ name: "" }] })).status).toBe(422);
    expect((await json2(h, "crm.lead", "create", { vals_list: [{ name: "L", type: "deal" }] })).status).toBe(500);
    expect((await json2(h, "crm.lead", "create", { vals_list: [{ name: "L", partner_id: 99 }] })).status).toBe(422);
    // One transaction: a list with one bad record creates none.
    expect((await json2(h, "res.partner", "create", { vals_list: [{ name: "A" }, { name: "B", foo: 1 }] })).status).toBe(500);
    expect((h.double.double.state() as unknown as State).partners).toHaveLength(0);

    const created = await json2(h, "res.partner", "create", { vals_list: [{ name: "A" }] });
    expect(await created.json()).toEqual([1]);
    const missing = await json2(h, "res.partner", "write", { ids: [42], vals: { name: "B" } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ name: "odoo.exceptions.MissingError" });
    expect((await json2(h, "res.partner", "write", { ids: [1], vals: { name: "" } })).status).toBe(422);
  });

  it("domains: =ilike is a LIKE pattern (escapes honoured), ilike a substring, '|' and '!' prefix operators, archived records only with active_test false", async () => {
    for (const email of ["jean_dupont@example.fr", "jeanXdupont@example.fr", "ana@example.fr"]) {
      expect((await json2(h, "res.partner", "create", { vals_list: [{ name: email, email }] })).status).toBe(200);
    }
    const count = async (domain: unknown, context?: unknown) =>
      (await (await json2(h, "res.partner", "search_count", { domain, ...(context ? { context } : {}) })).json()) as number;
    expect(await count([["email", "=ilike", "JEAN_DUPONT@example.fr"]])).toBe(2); // `_` is a wildcard
    expect(await count([["email", "=ilike", "jean\\_dupont@example.fr"]])).toBe(1);
    expect(await count([["email", "=ilike", "dupont@example.fr"]])).toBe(0);
    expect(await count([["email", "ilike", "DUPONT@"]])).toBe(2);
    expect(await count(["|", ["email", "=", "ana@example.fr"], ["name", "=", "jeanXdupont@example.fr"]])).toBe(2);
    expect(await count(["!", ["email", "=", "ana@example.fr"]])).toBe(2);
    expect((await json2(h, "res.partner", "search_count", { domain: [["nope", "=", 1]] })).status).toBe(500);

    expect((await json2(h, "res.partner", "write", { ids: [3], vals: { active: false } })).status).toBe(200);
    expect(await count([["email", "=", "ana@example.fr"]])).toBe(0);
    expect(await count([["email", "=", "ana@example.fr"]], { active_test: false })).toBe(1);
    const read = await (await json2(h, "res.partner", "search_read", { domain: [["id", "in", [1, 2]]], fields: ["email"], limit: 1 })).json();
    expect(read).toEqual([{ id: 1, email: "jean_dupont@example.fr" }]);
  });

  it("crm.lead: type defaults to lead only when the database uses leads; many2one read as [id, name]; won and lost actions", () =>
    withHarness({ useLeads: false }, {}, async (hn) => {
      await json2(hn, "res.partner", "create", { vals_list: [{ name: "Jean" }] });
      const [id] = (await (await json2(hn, "crm.lead", "create", { vals_list: [{ name: "L", partner_id: 1 }] })).json()) as number[];
      expect((await json2(hn, "crm.lead", "action_set_won", { ids: [id] })).status).toBe(200);
      expect((await json2(hn, "crm.lead", "action_set_won", {})).status).toBe(200); // no ids: nothing to do, as in Odoo
      const [lead] = (await (await json2(hn, "crm.lead", "search_read", { domain: [["id", "=", id]], fields: ["type", "partner_id", "stage_id", "probability"] })).json()) as Record<string, unknown>[];
      expect(lead).toEqual({ id, type: "opportunity", partner_id: [1, "Jean"], stage_id: [WON_STAGE, "Gagné"], probability: 100 });
      expect((await json2(hn, "crm.lead", "action_set_lost", { ids: [id], lost_reason_id: 1 })).status).toBe(200);
      expect((hn.double.double.state() as unknown as State).leads[0]).toMatchObject({ active: false, probability: 0, lost_reason_id: 1 });
    }));

  it("JSON-RPC: authenticate gives the uid or false; execute_kw checks database, uid and key; a record method takes its ids as args[0]", async () => {
    const call = async (service: string, method: string, args: unknown[]) => (await (await jsonrpc(h, service, method, args)).json()) as { result?: unknown; error?: { data: { name: string } } };
    expect((await call("common", "authenticate", [LOCAL_ODOO_DATABASE, LOCAL_ODOO_LOGIN, "wrong", {}])).result).toBe(false);
    expect((await call("common", "authenticate", ["nope", LOCAL_ODOO_LOGIN, LOCAL_ODOO_API_KEY, {}])).error?.data.name).toBe("psycopg2.OperationalError");
    const uid = (await call("common", "authenticate", [LOCAL_ODOO_DATABASE, LOCAL_ODOO_LOGIN, LOCAL_ODOO_API_KEY, {}])).result as number;
    const exec = (model: string, method: string, args: unknown[], kwargs: unknown = {}, who: unknown[] = [uid, LOCAL_ODOO_API_KEY]) =>
      call("object", "execute_kw", [LOCAL_ODOO_DATABASE, ...who, model, method, args, kwargs]);
    expect((await exec("res.partner", "search_count", [[]], {}, [uid + 1, LOCAL_ODOO_API_KEY])).error?.data.name).toBe("odoo.exceptions.AccessDenied");
    expect((await exec("res.partner", "create", [[{ name: "A" }]])).result).toEqual([1]);
    expect((await exec("res.partner", "create", [{ name: "B" }])).result).toBe(2);
    expect((await exec("res.partner", "write", [[1], { name: "A2" }])).result).toBe(true);
    expect((await exec("res.partner", "write", [{ name: "A3" }])).error?.data.name).toBe("builtins.TypeError");
    expect((await exec("res.partner", "frobnicate", [])).error?.data.name).toBe("builtins.AttributeError");
    expect((await exec("res.partner", "search_read", [[["name", "=", "A2"]]], { fields: ["name"] })).result).toEqual([{ id: 1, name: "A2" }]);
  });
});
