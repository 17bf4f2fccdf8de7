/**
 * The brevo module against its double. Oracles: Brevo's documented API as the
 * double enforces it (one contact per email or SMS number, deals linked to
 * contacts, stage ids, 429 with x-sib-ratelimit-* headers) and the double's
 * state — never the mapping code.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import { createBrevoDouble, DOUBLE_PIPELINE_ID, DOUBLE_STAGES, type BrevoContact, type BrevoDeal } from "./double.ts";
import { brevo, LOCAL_BREVO_KEY, type BrevoSettings } from "./index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const contacts = (h: Harness<BrevoSettings>) => h.double.double.state().contacts as BrevoContact[];
const deals = (h: Harness<BrevoSettings>) => h.double.double.state().deals as BrevoDeal[];
const STAGE_ENV = {
  BREVO_PIPELINE_ID: DOUBLE_PIPELINE_ID,
  BREVO_DEAL_STAGES: `pending=${DOUBLE_STAGES.new},paid=${DOUBLE_STAGES.won},refunded=${DOUBLE_STAGES.lost}`,
};

describe("brevo settings", () => {
  it("is off without BREVO_API_KEY and defaults to Brevo's URL", () => {
    expect(brevo.settings({})).toBeUndefined();
    const s = brevo.settings({ BREVO_API_KEY: "k" })!;
    expect(s.apiUrl).toBe("https://api.brevo.com/v3");
    expect(brevo.rateLimit(s)).toEqual({ perSecond: 4, burst: 4 });
    expect(brevo.rateLimit(brevo.settings({ BREVO_API_KEY: "k", BREVO_RATE_LIMIT: "2.5" })!)).toEqual({ perSecond: 2.5, burst: 3 });
  });

  it("names the variable that is wrong", () => {
    expect(() => brevo.settings({ BREVO_API_KEY: "k", BREVO_API_URL: "not a url" })).toThrow(/BREVO_API_URL/);
    expect(() => brevo.settings({ BREVO_API_KEY: "k", BREVO_RATE_LIMIT: "fast" })).toThrow(/BREVO_RATE_LIMIT/);
    expect(() => brevo.settings({ BREVO_API_KEY: "k", BREVO_DEAL_STAGES: "paid=abc" })).toThrow(/BREVO_PIPELINE_ID/);
    expect(() => brevo.settings({ BREVO_API_KEY: "k", BREVO_PIPELINE_ID: "p", BREVO_DEAL_STAGES: "payed=abc" })).toThrow(/BREVO_DEAL_STAGES/);
    expect(() => brevo.settings({ BREVO_API_KEY: "k", BREVO_CUSTOM_ATTRIBUTES: "maybe" })).toThrow(/BREVO_CUSTOM_ATTRIBUTES/);
  });
});

describe("brevo double enforces the documented API", () => {
  let h: Harness<BrevoSettings>;
  beforeAll(async () => { h = await startHarness(brevo, createBrevoDouble()); });
  afterAll(() => h.close());
  afterEach(() => h.double.reset());
  const send = (method: string, path: string, body?: unknown, key = LOCAL_BREVO_KEY) =>
    fetch(`${h.server.urlOf("brevo")}${path}`, { method, headers: { "api-key": key, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

  it("401 unauthorized without a valid api-key", async () => {
    const res = await send("GET", "/account", undefined, "nope");
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: "unauthorized", message: "Key not found" });
  });

  it("duplicate_parameter without updateEnabled, 204 with it; invalid email and SMS refused", async () => {
    expect((await send("POST", "/contacts", { email: "a@example.fr" })).status).toBe(201);
    const dup = await send("POST", "/contacts", { email: "a@example.fr" });
    expect(dup.status).toBe(400);
    expect((await dup.json()).code).toBe("duplicate_parameter");
    expect((await send("POST", "/contacts", { email: "a@example.fr", updateEnabled: true })).status).toBe(204);
    expect((await (await send("POST", "/contacts", { email: "nope" })).json()).code).toBe("invalid_parameter");
    expect((await (await send("POST", "/contacts", { attributes: { SMS: "0612345678" } })).json()).code).toBe("invalid_parameter");
    expect(contacts(h)).toHaveLength(1);
  });
});

describe("brevo contract", () => {
  let h: Harness<BrevoSettings>;
  beforeAll(async () => { h = await startHarness(brevo, createBrevoDouble(), STAGE_ENV); });
  afterAll(() => h.close());
  afterEach(() => { h.double.reset(); h.remembered.clear(); });

  it("lead: one contact upserted by email with updateEnabled, updated by the next snapshot", async () => {
    const first = leadEvent({ firstname: "Marie", phone: "+33612345678" });
    expect((await h.deliver(first)).kind).toBe("delivered");
    const [post] = h.double.calls();
    expect(post).toMatchObject({ method: "POST", path: "/contacts", status: 201 });
    expect(post.headers["api-key"]).toBe(LOCAL_BREVO_KEY);
    expect(post.body).toMatchObject({ email: first.data.email, updateEnabled: true });

    const next = nextEvent(first, { firstName: "Marie-Anne" });
    expect(await h.deliver(next)).toMatchObject({ kind: "delivered", httpStatus: 204 });
    expect(contacts(h)).toHaveLength(1);
    expect(contacts(h)[0]).toMatchObject({ email: first.data.email, attributes: { FIRSTNAME: "Marie-Anne", LASTNAME: "Curie", SMS: "+33612345678" } });
  });

  it("lead whose number belongs to another contact: delivered without it, the other keeps it", async () => {
    expect((await h.deliver(leadEvent({ phone: "+33611111111" }))).kind).toBe("delivered");
    const second = leadEvent({ phone: "+33611111111" });
    expect((await h.deliver(second)).kind).toBe("delivered");
    const all = contacts(h);
    expect(all).toHaveLength(2);
    expect(all.filter((c) => c.attributes.SMS === "+33611111111")).toHaveLength(1);
    expect(all.find((c) => c.email === second.data.email)?.attributes.SMS).toBeUndefined();
  });

  it("call-back: a phone-only contact created once, then updated by its remembered id", async () => {
    const cb = callbackEvent({ phone: "+33698765432", full_name: "Ana Lopez" });
    expect((await h.deliver(cb)).kind).toBe("delivered");
    expect(contacts(h)).toEqual([expect.objectContaining({ email: null, attributes: { FIRSTNAME: "Ana", LASTNAME: "Lopez", SMS: "+33698765432" } })]);
    expect(h.remembered.get(`${cb.recordId}/contact`)).toBe(String(contacts(h)[0].id));

    expect((await h.deliver(nextEvent(cb, { lastName: "Lopez Garcia" }))).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(contacts(h)[0].attributes.LASTNAME).toBe("Lopez Garcia");
    expect(h.double.calls().at(-1)).toMatchObject({ method: "PUT", path: `/contacts/${contacts(h)[0].id}`, query: { identifierType: "contact_id" }, status: 204 });
  });

  it("call-back from a number Brevo already holds: that contact is updated, none created", async () => {
    const lead = leadEvent({ phone: "+33655555555" });
    await h.deliver(lead);
    const cb = callbackEvent({ phone: "+33655555555", full_name: "Marie Curie" });
    expect((await h.deliver(cb)).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(contacts(h)[0].email).toBe(lead.data.email);
  });

  it("request: the contact and one deal linked to it; the next snapshot updates that deal", async () => {
    const req = requestEvent();
    expect((await h.deliver(req)).kind).toBe("delivered");
    const [contact] = contacts(h);
    expect(contact).toMatchObject({ email: req.data.email, attributes: { FIRSTNAME: "Jean", LASTNAME: "Dupont" } });
    expect(deals(h)).toHaveLength(1);
    expect(deals(h)[0].linkedContactsIds).toEqual([contact.id]);
    expect(String(deals(h)[0].attributes.deal_name)).toContain(req.recordId);

    expect((await h.deliver(nextEvent(req, { full_name: "Jean Dupond", status: "in_review" }))).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(deals(h)).toHaveLength(1);
    expect(contacts(h)[0].attributes.LASTNAME).toBe("Dupond");
    expect(String(deals(h)[0].attributes.deal_name)).toContain("Jean Dupond");
  });

  it("request of a contact that already exists (204, no id): its id is looked up and linked", async () => {
    const lead = leadEvent();
    await h.deliver(lead);
    const req = requestEvent({ email: String(lead.data.email) });
    expect((await h.deliver(req)).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(deals(h)[0].linkedContactsIds).toEqual([contacts(h)[0].id]);
  });

  it("payment progression pending → paid → refunded moves the same deal through the mapped stages", async () => {
    const pending = requestEvent({ payment_status: "pending" });
    await h.deliver(pending);
    expect(deals(h)[0].attributes).toMatchObject({ pipeline: DOUBLE_PIPELINE_ID, deal_stage: DOUBLE_STAGES.new });
    const payment = { payment_intent_id: "pi_test_1", amount: 15000, currency: "eur" };
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: payment.payment_intent_id, amount: payment.amount, currency: payment.currency });
    expect((await h.deliver(paid)).kind).toBe("delivered");
    expect(deals(h)).toHaveLength(1);
    expect(deals(h)[0].attributes).toMatchObject({ deal_stage: DOUBLE_STAGES.won, amount: 150 });
    expect((await h.deliver(nextEvent(paid, { payment_status: "refunded" }))).kind).toBe("delivered");
    expect(deals(h)).toHaveLength(1);
    expect(deals(h)[0].attributes.deal_stage).toBe(DOUBLE_STAGES.lost);
  });

  it("retry after a timeout on the deal call: no duplicate contact or deal", async () => {
    const req = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/crm/deals", times: 1 });
    const first = await h.deliver(req, { timeoutMs: 300 });
    expect(first).toMatchObject({ kind: "retry", httpStatus: null });
    await sleep(900);
    expect((await h.deliver({ ...req, attempt: 2 })).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(deals(h)).toHaveLength(1);
  });

  it("restart between the contact call and the deal call: the retry creates nothing twice", async () => {
    const req = requestEvent();
    h.double.setFaults({ mode: "down", path: "/crm/deals", times: 1 });
    expect((await h.deliver(req)).kind).toBe("retry");
    expect(contacts(h)).toHaveLength(1);
    expect(deals(h)).toHaveLength(0);
    expect((await h.deliver({ ...req, attempt: 2 })).kind).toBe("delivered");
    expect(contacts(h)).toHaveLength(1);
    expect(deals(h)).toHaveLength(1);
  });

  it("killed after Brevo created the deal, before its id was remembered: found again, not duplicated", async () => {
    const req = requestEvent();
    await h.deliver(req);
    h.remembered.delete(`${req.recordId}/deal`); // as if the process died right after POST /crm/deals
    const paid = nextEvent(req, { payment_status: "paid", amount: 9900, currency: "eur", payment_intent_id: "pi_test_2" });
    expect((await h.deliver(paid)).kind).toBe("delivered");
    expect(deals(h)).toHaveLength(1);
    expect(deals(h)[0].attributes).toMatchObject({ deal_stage: DOUBLE_STAGES.won, amount: 99 });
    expect(h.remembered.get(`${req.recordId}/deal`)).toBe(deals(h)[0].id);
  });

  it("a deal deleted at Brevo is replaced, not patched forever", async () => {
    const req = requestEvent();
    await h.deliver(req);
    const gone = deals(h)[0].id;
    const del = await fetch(`${h.server.urlOf("brevo")}/crm/deals/${gone}`, { method: "DELETE", headers: { "api-key": LOCAL_BREVO_KEY } });
    expect(del.status).toBe(204);
    expect((await h.deliver(nextEvent(req, {}))).kind).toBe("delivered");
    expect(deals(h)).toHaveLength(1);
    expect(deals(h)[0].id).not.toBe(gone);
    expect(h.remembered.get(`${req.recordId}/deal`)).toBe(deals(h)[0].id);
  });

  it("a refused email is dead with Brevo's code", async () => {
    const out = await h.deliver(leadEvent({ email: "not-an-email" }));
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toContain("invalid_parameter");
    expect(contacts(h)).toHaveLength(0);
  });

  it("a refused key is dead, naming BREVO_API_KEY", async () => {
    const out = await h.deliver(leadEvent(), { settings: { ...h.settings, apiKey: "wrong" } });
    expect(out).toMatchObject({ kind: "dead", httpStatus: 401 });
    expect(out.kind === "dead" && out.error).toContain("BREVO_API_KEY");
  });

  it("custom attributes are sent only when enabled, and only if the account has them", async () => {
    const withAttrs = await startHarness(brevo, createBrevoDouble({ customAttributes: ["POSTAL_CODE", "SERVICE_TYPE", "LEAD_SOURCE", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "LOVABLE_ID"] }), { BREVO_CUSTOM_ATTRIBUTES: "true" });
    try {
      const lead = leadEvent();
      expect((await withAttrs.deliver(lead)).kind).toBe("delivered");
      expect((withAttrs.double.double.state().contacts as BrevoContact[])[0].attributes).toMatchObject({ POSTAL_CODE: "75005", UTM_SOURCE: "google", LOVABLE_ID: lead.recordId });
    } finally {
      await withAttrs.close();
    }
    const out = await h.deliver(leadEvent(), { settings: { ...h.settings, customAttributes: true } });
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
  });

  it("test: key accepted, key refused, wrong URL, unreachable — and creates nothing", async () => {
    expect(await h.test()).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(await h.test({ ...h.settings, apiKey: "wrong" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 401 });
    expect(await h.test({ ...h.settings, apiUrl: `${h.server.url}/not-brevo` })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    expect(await h.test({ ...h.settings, apiUrl: "http://127.0.0.1:9/v3" })).toMatchObject({ ok: false, reachable: false });
    expect(h.double.calls().every((c) => c.method === "GET")).toBe(true);
    expect(contacts(h)).toHaveLength(0);
  });
});

describe("brevo rate limits", () => {
  it("contacts' per-second limit: retry after x-sib-ratelimit-reset", async () => {
    const h = await startHarness(brevo, createBrevoDouble({ contactsPerSecond: 1 }));
    try {
      await h.deliver(leadEvent());
      const out = await h.deliver(leadEvent());
      expect(out).toMatchObject({ kind: "retry", httpStatus: 429 });
      const last = h.double.calls().at(-1)!;
      expect(last.status).toBe(429);
      expect(out.kind === "retry" && out.retryAfterMs).toBeGreaterThan(0);
      expect(out.kind === "retry" && out.retryAfterMs).toBeLessThanOrEqual(1000);
    } finally {
      await h.close();
    }
  });

  it("CRM's hourly limit spent: the destination is throttled until the reset", async () => {
    const h = await startHarness(brevo, createBrevoDouble({ otherPerHour: 1 }));
    try {
      expect((await h.deliver(requestEvent())).kind).toBe("delivered");
      const before = Date.now();
      const out = await h.deliver(requestEvent());
      expect(out).toMatchObject({ kind: "throttled", httpStatus: 429 });
      // The double's window is an hour; resumeAt follows its x-sib-ratelimit-reset.
      expect(out.kind === "throttled" && out.resumeAt).toBeGreaterThan(before + 3_000_000);
      expect(out.kind === "throttled" && out.resumeAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
      expect(h.double.double.state().deals).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
