/**
 * The hubspot module against its double. The oracle is HubSpot's documented
 * API as the double enforces it (one contact per email, deal→contact
 * association type 3, the default pipeline's stage ids, 429 policyName,
 * error shapes), not the module's mapping code.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import { createHubspotDouble } from "./double.ts";
import { DAILY_RESET_MARGIN_MS, HUBSPOT_REQUESTS_PER_10S, LOCAL_HUBSPOT_TOKEN, hubspot, type HubspotSettings } from "./index.ts";
import { nextMidnight } from "./next-midnight.ts";

interface Stored { id: string; properties: Record<string, string>; associations: { contacts: string[]; deals: string[] } }
interface Body { inputs?: Array<{ id: string; idProperty: string; properties: Record<string, string> }>; associations?: unknown; filterGroups?: unknown }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallTime = (t: number, timeZone: string) =>
  new Intl.DateTimeFormat("en-GB", { timeZone, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(t));

describe("hubspot settings and pace", () => {
  it("is off without HUBSPOT_ACCESS_TOKEN and has the documented defaults", () => {
    expect(hubspot.settings({ HUBSPOT_API_URL: "http://x" })).toBeUndefined();
    const s = hubspot.settings({ HUBSPOT_ACCESS_TOKEN: "pat-eu1-abc" })!;
    expect(s.apiUrl).toBe("https://api.hubapi.com");
    expect(s.pipeline).toBe("default");
    expect(s.timeZone).toBe("Europe/Paris");
    expect(s.stages).toEqual({ pending: "appointmentscheduled", paid: "closedwon", failed: "closedlost", canceled: "closedlost", refunded: "closedlost" });
  });

  it("takes stage ids from HUBSPOT_DEAL_STAGES over the defaults", () => {
    const s = hubspot.settings({ HUBSPOT_ACCESS_TOKEN: "t", HUBSPOT_DEAL_STAGES: "paid:123456, refunded=789", HUBSPOT_PIPELINE: "42" })!;
    expect(s.stages.paid).toBe("123456");
    expect(s.stages.refunded).toBe("789");
    expect(s.stages.pending).toBe("appointmentscheduled");
    expect(s.pipeline).toBe("42");
  });

  it.each([
    [{ HUBSPOT_DEAL_STAGES: "shipped:closedwon" }, /HUBSPOT_DEAL_STAGES/],
    [{ HUBSPOT_DEAL_STAGES: "paid" }, /HUBSPOT_DEAL_STAGES/],
    [{ HUBSPOT_TIMEZONE: "Mars/Olympus_Mons" }, /HUBSPOT_TIMEZONE/],
    [{ HUBSPOT_API_URL: "not a url" }, /HUBSPOT_API_URL/],
    [{ HUBSPOT_API_URL: "ftp://example.com" }, /HUBSPOT_API_URL/],
    [{ HUBSPOT_RATE_LIMIT: "0" }, /HUBSPOT_RATE_LIMIT/],
    [{ HUBSPOT_RATE_LIMIT: "fast" }, /HUBSPOT_RATE_LIMIT/],
    [{ HUBSPOT_ACCESS_TOKEN: "two words" }, /HUBSPOT_ACCESS_TOKEN/],
  ])("refuses %j naming the variable", (env, message) => {
    expect(() => hubspot.settings({ HUBSPOT_ACCESS_TOKEN: "t", ...env })).toThrow(message);
  });

  it("never lets more than HubSpot's 100 requests per 10 s through, at its most calls per delivery", () => {
    const { perSecond, burst } = hubspot.rateLimit(hubspot.settings({ HUBSPOT_ACCESS_TOKEN: "t" })!);
    expect(HUBSPOT_REQUESTS_PER_10S).toBe(100);
    expect((burst + 10 * perSecond) * hubspot.maxCallsPerDelivery).toBeLessThanOrEqual(100);
    expect(perSecond).toBeGreaterThan(0);
    expect(hubspot.rateLimit(hubspot.settings({ HUBSPOT_ACCESS_TOKEN: "t", HUBSPOT_RATE_LIMIT: "5" })!).perSecond).toBe(5);
  });
});

describe("next midnight in the account's time zone (daily limit reset)", () => {
  it.each([
    ["Europe/Paris", "2025-03-29T23:30:00Z", "2025-03-30T22:00:00.000Z"], // 00:30 on the spring-forward day → 31 March 00:00 CEST
    ["Europe/Paris", "2025-10-25T12:00:00Z", "2025-10-25T22:00:00.000Z"], // 26 Oct 00:00 CEST (DST ends later that night)
    ["Europe/Paris", "2025-10-26T12:00:00Z", "2025-10-26T23:00:00.000Z"], // 27 Oct 00:00 CET
    ["Europe/Paris", "2025-06-01T22:00:00Z", "2025-06-02T22:00:00.000Z"], // exactly midnight → the next one
    ["America/New_York", "2025-01-15T03:00:00Z", "2025-01-15T05:00:00.000Z"], // 14 Jan 22:00 EST → 15 Jan 00:00 EST
  ])("%s at %s → %s", (zone, now, expected) => {
    expect(new Date(nextMidnight(zone, Date.parse(now))).toISOString()).toBe(expected);
  });
});

describe("hubspot against its double", () => {
  let h: Harness<HubspotSettings>;
  const state = () => h.double.double.state() as unknown as { contacts: Stored[]; deals: Stored[] };
  const calls = () => h.double.calls();

  beforeAll(async () => {
    h = await startHarness(hubspot, createHubspotDouble());
  });
  afterEach(() => {
    h.double.reset();
    h.remembered.clear();
  });
  afterAll(() => h.close());

  it("lead: one contact upserted by email (Bearer token), updated in place by the next snapshot", async () => {
    const ev = leadEvent();
    const out = await h.deliver(ev);
    expect(out).toMatchObject({ kind: "delivered", httpStatus: 200 });
    const [c] = calls();
    expect(calls()).toHaveLength(1);
    expect(c.method).toBe("POST");
    expect(c.path).toBe("/crm/v3/objects/contacts/batch/upsert");
    expect(c.headers.authorization).toBe(`Bearer ${LOCAL_HUBSPOT_TOKEN}`);
    const input = (c.body as Body).inputs![0];
    expect(input.idProperty).toBe("email");
    expect(input.id).toBe(ev.data.email);

    expect(state().contacts).toHaveLength(1);
    const contact = state().contacts[0];
    expect(contact.properties).toMatchObject({
      email: ev.data.email, firstname: "Marie", lastname: "Curie", phone: "+33612345678", zip: "75005",
      lovable_lead_id: ev.recordId, lovable_service_type: "photovoltaique", lovable_source: "lovable-website",
      lovable_utm_source: "google", lovable_utm_medium: "cpc", lovable_utm_campaign: "pv",
    });

    expect(await h.deliver(nextEvent(ev, { phone: "+33700000001", lastName: "Sklodowska" }))).toMatchObject({ kind: "delivered" });
    expect(state().contacts).toHaveLength(1);
    expect(state().contacts[0].id).toBe(contact.id);
    expect(state().contacts[0].properties).toMatchObject({ phone: "+33700000001", lastname: "Sklodowska", firstname: "Marie" });

    await h.deliver(leadEvent());
    expect(state().contacts).toHaveLength(2);
  });

  it("callback (no email): a contact created once, its id remembered; a redelivery updates it", async () => {
    const ev = callbackEvent();
    expect(await h.deliver(ev)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    expect(state().contacts).toHaveLength(1);
    const contact = state().contacts[0];
    expect(contact.properties.email).toBeUndefined();
    expect(contact.properties).toMatchObject({ firstname: "Ana", lastname: "Lopez Garcia", phone: "+33698765432", zip: "69001", lovable_lead_id: ev.recordId, lovable_source: "footer" });
    expect(h.remembered.get(`${ev.recordId}/contact`)).toBe(contact.id);
    expect(calls().map((c) => `${c.method} ${c.path}`)).toEqual(["POST /crm/v3/objects/contacts/search", "POST /crm/v3/objects/contacts"]);

    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().contacts).toHaveLength(1);
    expect(calls().at(-1)).toMatchObject({ method: "PATCH", path: `/crm/v3/objects/contacts/${contact.id}` });
  });

  it("callback: killed after the create and before the id was remembered → found by search, not created twice", async () => {
    const ev = callbackEvent();
    await h.deliver(ev);
    const id = state().contacts[0].id;
    h.remembered.clear(); // the kill: HubSpot has it, we never wrote its id down
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered" });
    expect(state().contacts).toHaveLength(1);
    expect(h.remembered.get(`${ev.recordId}/contact`)).toBe(id);
  });

  it("request: the contact upserted by email and one deal created, associated with it (deal→contact type 3)", async () => {
    const ev = requestEvent();
    expect(await h.deliver(ev)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const { contacts, deals } = state();
    expect(contacts).toHaveLength(1);
    expect(deals).toHaveLength(1);
    const [contact] = contacts;
    const [deal] = deals;
    expect(contact.properties).toMatchObject({ email: ev.data.email, firstname: "Jean", lastname: "Dupont", city: "Paris", zip: "75002", address: "1 rue de la Paix" });
    expect(deal.associations.contacts).toEqual([contact.id]);
    expect(contact.associations.deals).toEqual([deal.id]);
    expect(deal.properties).toMatchObject({ pipeline: "default", dealstage: "appointmentscheduled", lovable_request_id: ev.recordId, lovable_payment_status: "pending" });
    expect(deal.properties.amount).toBeUndefined();
    expect(deal.properties.dealname).toContain("Jean Dupont");
    expect(h.remembered.get(`${ev.recordId}/deal`)).toBe(deal.id);

    const create = calls().find((c) => c.method === "POST" && c.path === "/crm/v3/objects/deals")!;
    expect((create.body as Body).associations).toEqual([
      { to: { id: contact.id }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 3 }] },
    ]);
  });

  it("payment progression pending → paid → refunded moves the same deal through its stages", async () => {
    const pending = requestEvent();
    await h.deliver(pending);
    const dealId = state().deals[0].id;
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_3Ptest", amount: 15000, currency: "eur" });
    expect(await h.deliver(paid)).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().deals).toHaveLength(1);
    expect(state().deals[0].properties).toMatchObject({ dealstage: "closedwon", deal_currency_code: "EUR", lovable_payment_status: "paid" });
    expect(Number(state().deals[0].properties.amount)).toBe(150);
    expect(calls().at(-1)).toMatchObject({ method: "PATCH", path: `/crm/v3/objects/deals/${dealId}` });

    await h.deliver(nextEvent(paid, { payment_status: "refunded" }));
    expect(state().deals).toHaveLength(1);
    expect(state().contacts).toHaveLength(1);
    expect(state().deals[0]).toMatchObject({ id: dealId, properties: { dealstage: "closedlost", lovable_payment_status: "refunded" } });
  });

  it.each(["failed", "canceled"])("a %s payment closes the deal as lost", async (status) => {
    const ev = requestEvent({ payment_status: status as "failed" });
    await h.deliver(ev);
    expect(state().deals[0].properties.dealstage).toBe("closedlost");
  });

  it("stage ids come from HUBSPOT_DEAL_STAGES; one the pipeline lacks is refused by HubSpot → dead", async () => {
    const custom = hubspot.settings({ ...hubspot.localEnv(h.server.urlOf("hubspot")), HUBSPOT_DEAL_STAGES: "pending:qualifiedtobuy" })!;
    await h.deliver(requestEvent(), { settings: custom });
    expect(state().deals[0].properties.dealstage).toBe("qualifiedtobuy");

    const wrong = hubspot.settings({ ...hubspot.localEnv(h.server.urlOf("hubspot")), HUBSPOT_DEAL_STAGES: "pending:nosuchstage" })!;
    const out = await h.deliver(requestEvent(), { settings: wrong });
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toMatch(/nosuchstage/);
    expect(state().deals).toHaveLength(1);
  });

  it("retry after a timeout: the next attempt creates no second contact or deal", async () => {
    const ev = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/crm/v3/objects/deals", times: 1 });
    const out = await h.deliver(ev, { timeoutMs: 300 });
    expect(out).toMatchObject({ kind: "retry", httpStatus: null });
    expect(out.kind === "retry" && out.error).toMatch(/timeout/);
    await sleep(700); // the slow answer runs out on the double's side
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered" });
    expect(state().contacts).toHaveLength(1);
    expect(state().deals).toHaveLength(1);
  });

  it("restart between two calls (the deal call never answered) → no duplicate on redelivery", async () => {
    const ev = requestEvent();
    h.double.setFaults({ mode: "down", path: "/crm/v3/objects/deals", times: 1 });
    expect(await h.deliver(ev)).toMatchObject({ kind: "retry", httpStatus: null });
    expect(state().contacts).toHaveLength(1);
    expect(state().deals).toHaveLength(0);
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered" });
    expect(state().contacts).toHaveLength(1);
    expect(state().deals).toHaveLength(1);
  });

  it("request: killed after the deal was created, before its id was remembered → found by lovable_request_id", async () => {
    const ev = requestEvent();
    await h.deliver(ev);
    const id = state().deals[0].id;
    h.remembered.clear();
    expect(await h.deliver(nextEvent(ev, { payment_status: "paid", payment_intent_id: "pi_x", amount: 9900, currency: "eur" }))).toMatchObject({ kind: "delivered" });
    expect(state().deals).toHaveLength(1);
    expect(state().deals[0].properties.dealstage).toBe("closedwon");
    expect(h.remembered.get(`${ev.recordId}/deal`)).toBe(id);
  });

  it("a remembered deal id HubSpot no longer has (404) → the deal is found again, not duplicated", async () => {
    const ev = requestEvent();
    await h.deliver(ev);
    const id = state().deals[0].id;
    h.remembered.set(`${ev.recordId}/deal`, "999999999");
    expect(await h.deliver(nextEvent(ev, { status: "in_review" }))).toMatchObject({ kind: "delivered" });
    expect(state().deals).toHaveLength(1);
    expect(h.remembered.get(`${ev.recordId}/deal`)).toBe(id);
  });

  it("an invalid email is HubSpot's 400 for this record → dead, nothing written", async () => {
    const out = await h.deliver(leadEvent({ email: "not-an-email" }));
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toMatch(/not-an-email/);
    expect(state().contacts).toHaveLength(0);
  });

  it("5xx → retry; the kit's plain 429 with Retry-After → retry honouring it", async () => {
    h.double.setFaults({ mode: "error", status: 503, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "throttle", retryAfter: 7, times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 7000 });
  });

  it("daily limit spent (sandbox switch) → throttled until midnight Europe/Paris", async () => {
    const res = await fetch(`${h.server.urlOf("hubspot")}/_sandbox/limits`, { method: "POST", body: JSON.stringify({ dailyRemaining: 0 }) });
    expect(res.status).toBe(200);
    const before = Date.now();
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "throttled", httpStatus: 429 });
    if (out.kind !== "throttled") throw new Error("not throttled");
    expect(out.resumeAt).toBeGreaterThan(before);
    expect(out.resumeAt - before).toBeLessThanOrEqual(25 * 3600_000 + DAILY_RESET_MARGIN_MS);
    expect(wallTime(out.resumeAt - DAILY_RESET_MARGIN_MS, "Europe/Paris")).toBe("00:00:00");
    expect(state().contacts).toHaveLength(0);
    expect(JSON.parse(out.excerpt ?? "{}")).toMatchObject({ status: "error", errorType: "RATE_LIMIT", policyName: "DAILY" });
  });

  it("the daily reset follows HUBSPOT_TIMEZONE", async () => {
    await fetch(`${h.server.urlOf("hubspot")}/_sandbox/limits`, { method: "POST", body: JSON.stringify({ dailyRemaining: 0 }) });
    const s = hubspot.settings({ ...hubspot.localEnv(h.server.urlOf("hubspot")), HUBSPOT_TIMEZONE: "America/New_York" })!;
    const out = await h.deliver(leadEvent(), { settings: s });
    if (out.kind !== "throttled") throw new Error(`expected throttled, got ${out.kind}`);
    expect(wallTime(out.resumeAt - DAILY_RESET_MARGIN_MS, "America/New_York")).toBe("00:00:00");
  });

  it("the 10-second window spent → 429 TEN_SECONDLY_ROLLING with HubSpot's headers → retry after the window", async () => {
    await fetch(`${h.server.urlOf("hubspot")}/_sandbox/limits`, { method: "POST", body: JSON.stringify({ tenSecondlyLimit: 2 }) });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "delivered" });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "delivered" });
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "retry", httpStatus: 429, retryAfterMs: 10_000 });
    expect(out.kind === "retry" && out.error).toMatch(/TEN_SECONDLY_ROLLING/);
    expect(state().contacts).toHaveLength(2);

    const res = await fetch(`${h.server.urlOf("hubspot")}/crm/v3/objects/contacts?limit=1`, { headers: { authorization: `Bearer ${LOCAL_HUBSPOT_TOKEN}` } });
    expect(res.status).toBe(429);
    expect(res.headers.get("x-hubspot-ratelimit-max")).toBe("2");
    expect(res.headers.get("x-hubspot-ratelimit-remaining")).toBe("0");
    expect(res.headers.get("x-hubspot-ratelimit-interval-milliseconds")).toBe("10000");
    expect(await res.json()).toMatchObject({ status: "error", errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING" });
  });

  it("a refused token (401 INVALID_AUTHENTICATION) pauses the destination; nothing written", async () => {
    const out = await h.deliver(requestEvent(), { settings: { ...h.settings, token: "pat-eu1-revoked" } });
    expect(out).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect(out.kind === "pause" && out.reason).toMatch(/HUBSPOT_ACCESS_TOKEN/);
    expect(state().contacts).toHaveLength(0);
    expect(calls()[0]).toMatchObject({ status: 401 });
  });

  it("test: token accepted and custom properties present, with reads only", async () => {
    const check = await h.test();
    expect(check).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true, httpStatus: 200 });
    expect(calls().every((c) => c.method === "GET")).toBe(true);
    expect(state().contacts).toHaveLength(0);
  });

  it("test: tells a wrong token from a wrong URL and from an unreachable one", async () => {
    expect(await h.test({ ...h.settings, token: "pat-eu1-wrong" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    const wrongPath = await h.test({ ...h.settings, apiUrl: `${h.server.url}/not-hubspot` });
    expect(wrongPath).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    expect(wrongPath.message).toMatch(/HUBSPOT_API_URL/);
    expect(await h.test({ ...h.settings, apiUrl: "http://127.0.0.1:1" })).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
  });
});

describe("hubspot on an account without the custom properties", () => {
  let h: Harness<HubspotSettings>;
  beforeAll(async () => {
    h = await startHarness(hubspot, createHubspotDouble({ customProperties: false }));
  });
  afterAll(() => h.close());

  it("PROPERTY_DOESNT_EXIST pauses the destination with the setup to do; test lists what is missing", async () => {
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "pause", httpStatus: 400 });
    expect(out.kind === "pause" && out.reason).toMatch(/lovable_\w+.*docs\/destinations\/hubspot\.md/);
    expect((h.double.double.state() as { contacts: unknown[] }).contacts).toHaveLength(0);

    const check = await h.test();
    expect(check).toMatchObject({ ok: false, reachable: true, credentialsAccepted: true });
    expect(check.message).toContain("contacts.lovable_lead_id");
    expect(check.message).toContain("deals.lovable_request_id");
  });
});
