/**
 * The salesforce module against its double. The oracle is Salesforce's
 * documented API as the double enforces it (client-credentials token endpoint,
 * Bearer sessions that expire, one record per external id, 300 on several,
 * required Lead/Opportunity fields, the stage picklist, REQUEST_LIMIT_EXCEEDED),
 * not the module's mapping code.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callbackEvent, leadEvent, nextEvent, requestEvent, startHarness, type Harness } from "../../../tests/helpers/destination-harness.ts";
import { createSalesforceDouble, type StoredRecord } from "./double.ts";
import {
  DEFAULT_SALESFORCE_RATE, LOCAL_SALESFORCE_CLIENT_ID, LOCAL_SALESFORCE_CLIENT_SECRET, REQUEST_LIMIT_WAIT_MS,
  CONCURRENT_LIMIT_WAIT_MS, clearSalesforceTokens, classifySalesforce, salesforce, type SalesforceSettings,
} from "./index.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENV = { SALESFORCE_URL: "https://acme.my.salesforce.com", SALESFORCE_CLIENT_ID: "3MVGabc", SALESFORCE_CLIENT_SECRET: "s3cr3t" };

describe("salesforce settings and pace", () => {
  it("is off without its variables and has the documented defaults", () => {
    expect(salesforce.settings({})).toBeUndefined();
    const s = salesforce.settings(ENV)!;
    expect(s).toMatchObject({
      url: "https://acme.my.salesforce.com", apiVersion: "v62.0",
      leadExternalIdField: "Lovable_Id__c", opportunityExternalIdField: "Lovable_Id__c",
    });
    expect(s.stages).toEqual({ pending: "Prospecting", failed: "Prospecting", paid: "Closed Won", canceled: "Closed Lost", refunded: "Closed Lost" });
    expect(salesforce.settings({ ...ENV, SALESFORCE_API_VERSION: "60.0", SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD: "none" }))
      .toMatchObject({ apiVersion: "v60.0", opportunityExternalIdField: null });
    expect(salesforce.settings({ ...ENV, SALESFORCE_OPPORTUNITY_STAGES: "pending:Qualification, paid:Closed Won" })!.stages.pending).toBe("Qualification");
  });

  it.each([
    [{ SALESFORCE_CLIENT_SECRET: "" }, /SALESFORCE_CLIENT_SECRET/],
    [{ SALESFORCE_URL: "" }, /SALESFORCE_URL/],
    [{ SALESFORCE_URL: "https://login.salesforce.com" }, /My Domain/],
    [{ SALESFORCE_URL: "acme.my.salesforce.com" }, /SALESFORCE_URL/],
    [{ SALESFORCE_URL: "https://acme.my.salesforce.com/services/data/v62.0" }, /SALESFORCE_URL/],
    [{ SALESFORCE_API_VERSION: "latest" }, /SALESFORCE_API_VERSION/],
    [{ SALESFORCE_API_VERSION: "v45.0" }, /SALESFORCE_API_VERSION/],
    [{ SALESFORCE_LEAD_EXTERNAL_ID_FIELD: "Email" }, /SALESFORCE_LEAD_EXTERNAL_ID_FIELD/],
    [{ SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD: "Id; DROP" }, /SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD/],
    [{ SALESFORCE_OPPORTUNITY_STAGES: "shipped:Closed Won" }, /SALESFORCE_OPPORTUNITY_STAGES/],
    [{ SALESFORCE_RATE_LIMIT: "0" }, /SALESFORCE_RATE_LIMIT/],
    [{ SALESFORCE_CLIENT_ID: "two words" }, /SALESFORCE_CLIENT_ID/],
  ])("refuses %j naming the variable", (env, message) => {
    expect(() => salesforce.settings({ ...ENV, ...env })).toThrow(message);
  });

  it("a stray setting without the three enabling ones is an error", () => {
    expect(() => salesforce.settings({ SALESFORCE_API_VERSION: "v62.0" })).toThrow(/SALESFORCE_API_VERSION.*SALESFORCE_URL/);
  });

  it("paces a modest 5 deliveries/s by default (a daily allocation, no per-second limit); SALESFORCE_RATE_LIMIT overrides", () => {
    expect(salesforce.rateLimit(salesforce.settings(ENV)!)).toEqual(DEFAULT_SALESFORCE_RATE);
    expect(DEFAULT_SALESFORCE_RATE.perSecond).toBe(5);
    expect(salesforce.rateLimit(salesforce.settings({ ...ENV, SALESFORCE_RATE_LIMIT: "2" })!)).toEqual({ perSecond: 2, burst: 4 });
  });
});

describe("salesforce answers the double does not play (errorcodes.htm)", () => {
  const answer = (status: number, body: unknown) => [new Response(JSON.stringify(body), { status }), JSON.stringify(body)] as const;

  it("REQUEST_LIMIT_EXCEEDED for concurrent long-running requests → retry shortly, not throttled for an hour", () => {
    const [res, text] = answer(403, [{ message: "ConcurrentPerOrgLongTxn Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]);
    expect(classifySalesforce(res, text, "PATCH Lead/Lovable_Id__c")).toMatchObject({ kind: "retry", httpStatus: 403, retryAfterMs: CONCURRENT_LIMIT_WAIT_MS });
  });

  it.each(["API_DISABLED_FOR_ORG", "INSUFFICIENT_ACCESS_OR_READONLY"])("403 %s (the run-as user's permissions) → pause", (code) => {
    const [res, text] = answer(403, [{ message: "not allowed", errorCode: code }]);
    const out = classifySalesforce(res, text, "PATCH Lead/Lovable_Id__c");
    expect(out).toMatchObject({ kind: "pause", httpStatus: 403 });
    expect(out.kind === "pause" && out.reason).toContain(code);
  });

  it("400 REQUIRED_FIELD_MISSING → dead quoting the fields; 500 → retry", () => {
    const [res, text] = answer(400, [{ message: "Required fields are missing: [Company]", errorCode: "REQUIRED_FIELD_MISSING", fields: ["Company"] }]);
    const out = classifySalesforce(res, text, "PATCH Lead/Lovable_Id__c");
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toBe("PATCH Lead/Lovable_Id__c: HTTP 400 REQUIRED_FIELD_MISSING: Required fields are missing: [Company] [Company]");
    const [r5, t5] = answer(500, [{ message: "boom", errorCode: "UNKNOWN_EXCEPTION" }]);
    expect(classifySalesforce(r5, t5, "PATCH Lead/Lovable_Id__c")).toMatchObject({ kind: "retry", httpStatus: 500 });
  });
});

describe("salesforce against its double", () => {
  let h: Harness<SalesforceSettings>;
  const state = () => h.double.double.state() as unknown as { leads: StoredRecord[]; opportunities: StoredRecord[] };
  const calls = () => h.double.calls();
  const tokenCalls = () => calls().filter((c) => c.path === "/services/oauth2/token");
  const sandbox = (path: string, body: unknown = {}) =>
    fetch(`${h.server.urlOf("salesforce")}/_sandbox/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const withEnv = (env: Record<string, string>) => salesforce.settings({ ...salesforce.localEnv(h.server.urlOf("salesforce")), ...env })!;

  beforeAll(async () => {
    h = await startHarness(salesforce, createSalesforceDouble());
  });
  afterEach(() => {
    h.double.reset();
    h.remembered.clear();
    clearSalesforceTokens();
  });
  afterAll(() => h.close());

  it("lead: a client-credentials token, then one Lead upserted by Lovable_Id__c; the next snapshot updates it in place", async () => {
    const ev = leadEvent();
    expect(await h.deliver(ev)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    const [tok, up] = calls();
    expect(calls()).toHaveLength(2);
    expect(tok).toMatchObject({ method: "POST", path: "/services/oauth2/token", status: 200 });
    expect(tok.headers["content-type"]).toMatch(/application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(tok.body as string);
    expect(form.get("grant_type")).toBe("client_credentials");
    expect(form.get("client_id")).toBe(LOCAL_SALESFORCE_CLIENT_ID);
    expect(up).toMatchObject({ method: "PATCH", path: `/services/data/v62.0/sobjects/Lead/Lovable_Id__c/${ev.recordId}` });
    expect(up.headers.authorization).toMatch(/^Bearer 00D/);

    expect(state().leads).toHaveLength(1);
    const lead = state().leads[0];
    expect(lead.Id).toMatch(/^00Q[A-Za-z0-9]{15}$/);
    expect(lead.fields).toMatchObject({
      Lovable_Id__c: ev.recordId, FirstName: "Marie", LastName: "Curie", Company: "Particulier", Email: ev.data.email,
      Phone: "+33612345678", PostalCode: "75005", LeadSource: "Web",
    });
    expect(lead.fields.Description).toContain("photovoltaique");
    expect(lead.fields.Description).toContain("google");
    expect(h.remembered.get(`${ev.recordId}/lead`)).toBe(lead.Id);

    expect(await h.deliver(nextEvent(ev, { phone: "+33700000001", lastName: "Sklodowska" }))).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().leads).toHaveLength(1);
    expect(state().leads[0]).toMatchObject({ Id: lead.Id, fields: { Phone: "+33700000001", LastName: "Sklodowska", FirstName: "Marie" } });
    expect(tokenCalls()).toHaveLength(1); // the token is cached

    await h.deliver(leadEvent());
    expect(state().leads).toHaveLength(2);
  });

  it("a lead without last name gets LastName \"Inconnu\" (required on Lead); a call-back too, with its own id", async () => {
    expect(await h.deliver(leadEvent({ lastname: null }))).toMatchObject({ kind: "delivered" });
    const cb = callbackEvent({ full_name: "Ana" });
    expect(await h.deliver(cb)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    expect(state().leads.map((l) => l.fields.LastName)).toEqual(["Inconnu", "Inconnu"]);
    const callback = state().leads[1];
    expect(callback.fields).toMatchObject({ Lovable_Id__c: cb.recordId, FirstName: "Ana", Company: "Particulier", Phone: "+33698765432", PostalCode: "69001" });
    expect(callback.fields.Email ?? null).toBeNull();
    expect(callback.fields.Description).toMatch(/rappel/);
    expect(await h.deliver({ ...cb, attempt: 2 })).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().leads).toHaveLength(2);
  });

  it("never sends the external id field in the body (Salesforce refuses it there)", async () => {
    await h.deliver(requestEvent());
    for (const c of calls().filter((x) => x.method === "PATCH")) expect(c.body).not.toHaveProperty("Lovable_Id__c");
  });

  it("request: the customer's Lead and one Opportunity, both upserted by the request id", async () => {
    const ev = requestEvent({ company_name: "SARL Volta", client_type: "professionnel", siren: "123456789" });
    expect(await h.deliver(ev)).toMatchObject({ kind: "delivered", httpStatus: 201 });
    expect(calls().filter((c) => c.method === "PATCH").map((c) => c.path)).toEqual([
      `/services/data/v62.0/sobjects/Lead/Lovable_Id__c/${ev.recordId}`,
      `/services/data/v62.0/sobjects/Opportunity/Lovable_Id__c/${ev.recordId}`,
    ]);
    const { leads, opportunities } = state();
    expect(leads).toHaveLength(1);
    expect(opportunities).toHaveLength(1);
    expect(leads[0].fields).toMatchObject({
      FirstName: "Jean", LastName: "Dupont", Company: "SARL Volta", Email: ev.data.email, Street: "1 rue de la Paix", City: "Paris", PostalCode: "75002",
    });
    expect(leads[0].fields.Description).toContain("123456789");
    const opp = opportunities[0];
    expect(opp.Id).toMatch(/^006/);
    expect(opp.fields).toMatchObject({ Lovable_Id__c: ev.recordId, StageName: "Prospecting", CloseDate: ev.createdAt.slice(0, 10) });
    expect(opp.fields.Amount ?? null).toBeNull();
    expect(opp.fields.Name).toContain("SARL Volta");
    expect(h.remembered.get(`${ev.recordId}/opportunity`)).toBe(opp.Id);
  });

  it("payment progression pending → paid → refunded moves the same Opportunity through its stages", async () => {
    const pending = requestEvent();
    await h.deliver(pending);
    const oppId = state().opportunities[0].Id;
    const paid = nextEvent(pending, { payment_status: "paid", payment_intent_id: "pi_3Ptest", amount: 15000, currency: "eur" });
    expect(await h.deliver(paid)).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().opportunities).toHaveLength(1);
    expect(state().opportunities[0].fields).toMatchObject({ StageName: "Closed Won", Amount: 150 });
    expect(state().opportunities[0].fields.Description).toContain("pi_3Ptest");

    await h.deliver(nextEvent(paid, { payment_status: "refunded" }));
    expect(state().opportunities).toHaveLength(1);
    expect(state().leads).toHaveLength(1);
    expect(state().opportunities[0]).toMatchObject({ Id: oppId, fields: { StageName: "Closed Lost" } });
  });

  it("SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD=none: a request updates the Lead only", async () => {
    const out = await h.deliver(requestEvent(), { settings: withEnv({ SALESFORCE_OPPORTUNITY_EXTERNAL_ID_FIELD: "none" }) });
    expect(out).toMatchObject({ kind: "delivered" });
    expect(state().leads).toHaveLength(1);
    expect(state().opportunities).toHaveLength(0);
  });

  it("long names are cut to the fields' lengths instead of being refused (STRING_TOO_LONG)", async () => {
    const long = "X".repeat(300);
    expect(await h.deliver(requestEvent({ full_name: `Jean ${long}`, company_name: long, city: long }))).toMatchObject({ kind: "delivered" });
    expect(String(state().leads[0].fields.LastName).length).toBe(80);
  });

  it("retry after a timeout: the next attempt creates no second Lead or Opportunity", async () => {
    const ev = requestEvent();
    h.double.setFaults({ mode: "slow", delayMs: 800, path: "/sobjects/Opportunity", times: 1 });
    const out = await h.deliver(ev, { timeoutMs: 300 });
    expect(out).toMatchObject({ kind: "retry", httpStatus: null });
    expect(out.kind === "retry" && out.error).toMatch(/timeout/);
    await sleep(700); // the slow call runs out on the double's side
    expect(state().leads).toHaveLength(1);
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered" });
    expect(state().leads).toHaveLength(1);
    expect(state().opportunities).toHaveLength(1);
  });

  it("both records written but the answer lost and nothing remembered: the redelivery updates them (200), no duplicate", async () => {
    const ev = requestEvent();
    await h.deliver(ev);
    const before = state();
    h.remembered.clear();
    clearSalesforceTokens();
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered", httpStatus: 200 });
    expect(state().leads.map((l) => l.Id)).toEqual(before.leads.map((l) => l.Id));
    expect(state().opportunities.map((o) => o.Id)).toEqual(before.opportunities.map((o) => o.Id));
  });

  it("restart between two calls (the Opportunity call never answered) → no duplicate on redelivery, even with no remembered id", async () => {
    const ev = requestEvent();
    h.double.setFaults({ mode: "down", path: "/sobjects/Opportunity", times: 1 });
    expect(await h.deliver(ev)).toMatchObject({ kind: "retry", httpStatus: null });
    expect(state().leads).toHaveLength(1);
    expect(state().opportunities).toHaveLength(0);
    h.remembered.clear(); // a kill: nothing of this attempt was written down
    clearSalesforceTokens(); // a new isolate
    expect(await h.deliver({ ...ev, attempt: 2 })).toMatchObject({ kind: "delivered", httpStatus: 201 });
    expect(state().leads).toHaveLength(1);
    expect(state().opportunities).toHaveLength(1);
  });

  it("Salesforce's token expiring mid-backlog is refreshed once, not per delivery", async () => {
    await h.deliver(leadEvent());
    expect(tokenCalls()).toHaveLength(1);
    expect((await sandbox("expire-tokens")).status).toBe(200);
    const backlog = Array.from({ length: 50 }, () => leadEvent());
    const outs = await Promise.all(backlog.map((ev) => h.deliver(ev, { timeoutMs: 10_000 })));
    expect(outs.filter((o) => o.kind === "delivered")).toHaveLength(50);
    expect(tokenCalls()).toHaveLength(2); // exactly one extra token request
    expect(calls().filter((c) => c.status === 401).length).toBeGreaterThan(0); // the old token was refused
    expect(state().leads).toHaveLength(51);
  });

  it("a token refused again right after its refresh pauses the destination (credentials refused)", async () => {
    h.double.setFaults({ mode: "reject", status: 401, path: "/services/data/", times: 2 });
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "pause", httpStatus: 401 });
    expect(out.kind === "pause" && out.reason).toMatch(/credentials refused/);
    expect(tokenCalls()).toHaveLength(2);
    expect(state().leads).toHaveLength(0);
  });

  it("wrong client secret or id: the token endpoint's invalid_client → pause naming the variable; nothing written", async () => {
    const bad = await h.deliver(leadEvent(), { settings: { ...h.settings, clientSecret: "wrong" } });
    expect(bad).toMatchObject({ kind: "pause", httpStatus: 400 });
    expect(bad.kind === "pause" && bad.reason).toMatch(/invalid_client: invalid client credentials.*SALESFORCE_CLIENT_SECRET/);
    const badId = await h.deliver(leadEvent(), { settings: { ...h.settings, clientId: "3MVGnope" } });
    expect(badId.kind === "pause" && badId.reason).toMatch(/invalid_client_id.*SALESFORCE_CLIENT_ID/);
    expect(state().leads).toHaveLength(0);
  });

  it("token endpoint 5xx or unreachable → retry", async () => {
    h.double.setFaults({ mode: "error", status: 503, path: "/services/oauth2/token", times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
    h.double.setFaults({ mode: "down", path: "/services/oauth2/token", times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: null });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "delivered" });
  });

  it("300 Multiple Choices (two records share the external id) → dead with a clear reason; nothing overwritten", async () => {
    const ev = leadEvent();
    await h.deliver(ev);
    expect((await sandbox("duplicate", { sobject: "Lead", value: ev.recordId })).status).toBe(200);
    const out = await h.deliver(nextEvent(ev, { lastName: "Changed" }));
    expect(out).toMatchObject({ kind: "dead", httpStatus: 300 });
    expect(out.kind === "dead" && out.error).toMatch(/2 Salesforce records carry this external id; merge them/);
    expect(state().leads).toHaveLength(2);
    expect(state().leads.every((l) => l.fields.LastName === "Curie")).toBe(true);
  });

  it("REQUEST_LIMIT_EXCEEDED (403, the org's 24-h allocation spent) → throttled for an hour, not dead", async () => {
    await sandbox("limits", { dailyLimit: 1000, used: 1000 });
    const before = Date.now();
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "throttled", httpStatus: 403 });
    if (out.kind !== "throttled") throw new Error("not throttled");
    expect(out.resumeAt).toBeGreaterThanOrEqual(before + REQUEST_LIMIT_WAIT_MS);
    expect(out.resumeAt).toBeLessThanOrEqual(Date.now() + REQUEST_LIMIT_WAIT_MS);
    expect(out.error).toMatch(/api-usage=1000\/1000/);
    expect(JSON.parse(out.excerpt ?? "[]")).toEqual([{ message: "TotalRequests Limit exceeded.", errorCode: "REQUEST_LIMIT_EXCEEDED" }]);
    expect(state().leads).toHaveLength(0);
  });

  it("every data answer carries Sforce-Limit-Info; the allocation counts data calls", async () => {
    await sandbox("limits", { dailyLimit: 3 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "delivered" });
    expect(await h.deliver(requestEvent())).toMatchObject({ kind: "delivered" }); // calls 2 and 3
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "throttled" });
    const res = await fetch(`${h.server.urlOf("salesforce")}/services/data/v62.0/limits`, { headers: { authorization: "Bearer nope" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
  });

  it("a 400 for this record (INVALID_EMAIL_ADDRESS) → dead with Salesforce's errorCode; nothing written", async () => {
    const out = await h.deliver(leadEvent({ email: "not-an-email" }));
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toMatch(/INVALID_EMAIL_ADDRESS/);
    expect(state().leads).toHaveLength(0);
  });

  it("a stage the org's picklist lacks → dead (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST)", async () => {
    const out = await h.deliver(requestEvent(), { settings: withEnv({ SALESFORCE_OPPORTUNITY_STAGES: "pending:Signé" }) });
    expect(out).toMatchObject({ kind: "dead", httpStatus: 400 });
    expect(out.kind === "dead" && out.error).toMatch(/INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST.*Signé/);
    expect(state().opportunities).toHaveLength(0);
  });

  it("5xx on a data call → retry", async () => {
    h.double.setFaults({ mode: "error", status: 503, path: "/services/data/", times: 1 });
    expect(await h.deliver(leadEvent())).toMatchObject({ kind: "retry", httpStatus: 503 });
  });

  it("test: token, /limits and the objects' descriptions — reads only, nothing created", async () => {
    const check = await h.test();
    expect(check).toMatchObject({ ok: true, reachable: true, credentialsAccepted: true });
    expect(check.message).toMatch(/Daily API requests: \d+ of 15000 left/);
    expect(calls().filter((c) => c.path !== "/services/oauth2/token").every((c) => c.method === "GET")).toBe(true);
    expect(calls().map((c) => c.path)).toContain("/services/data/v62.0/limits");
    expect(state().leads).toHaveLength(0);
  });

  it("test: tells a wrong secret from a wrong URL and from an unreachable one", async () => {
    expect(await h.test({ ...h.settings, clientSecret: "wrong" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false, httpStatus: 400 });
    expect(await h.test({ ...h.settings, clientId: "nope" })).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false });
    const wrongPath = await h.test({ ...h.settings, url: `${h.server.url}/not-salesforce` });
    expect(wrongPath).toMatchObject({ ok: false, reachable: true, credentialsAccepted: null, httpStatus: 404 });
    expect(wrongPath.message).toMatch(/SALESFORCE_URL/);
    expect(await h.test({ ...h.settings, url: "http://127.0.0.1:1" })).toMatchObject({ ok: false, reachable: false, credentialsAccepted: null });
    const badVersion = await h.test({ ...h.settings, apiVersion: "v99.0" });
    expect(badVersion).toMatchObject({ ok: false, credentialsAccepted: true, httpStatus: 404 });
    expect(badVersion.message).toMatch(/SALESFORCE_API_VERSION/);
  });
});

describe("salesforce on an org whose setup is incomplete", () => {
  let h: Harness<SalesforceSettings>;
  beforeAll(async () => {
    h = await startHarness(salesforce, createSalesforceDouble({ externalIdFields: { Lead: [], Opportunity: ["Lovable_Id__c"] }, runAsUser: true }));
  });
  afterEach(() => clearSalesforceTokens());
  afterAll(() => h.close());

  it("no external id field on Lead: the upsert's 404 pauses the destination with the setup to do; test says what is missing", async () => {
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "pause", httpStatus: 404 });
    expect(out.kind === "pause" && out.reason).toMatch(/external id field.*docs\/destinations\/salesforce\.md/);
    expect(out.kind === "pause" && out.error).toMatch(/Provided external ID field does not exist or is not accessible: Lovable_Id__c/);
    const check = await h.test();
    expect(check).toMatchObject({ ok: false, reachable: true, credentialsAccepted: true });
    expect(check.message).toContain("Lead.Lovable_Id__c does not exist");
    expect(check.message).not.toContain("Opportunity.");
  });
});

describe("salesforce app without a run-as user", () => {
  let h: Harness<SalesforceSettings>;
  beforeAll(async () => {
    h = await startHarness(salesforce, createSalesforceDouble({ runAsUser: false }));
  });
  afterAll(() => h.close());

  it("invalid_grant → pause telling to set the run-as user; test reports credentials refused", async () => {
    const out = await h.deliver(leadEvent());
    expect(out).toMatchObject({ kind: "pause", httpStatus: 400 });
    expect(out.kind === "pause" && out.reason).toMatch(/no client credentials user enabled.*run-as user/);
    expect(await h.test()).toMatchObject({ ok: false, reachable: true, credentialsAccepted: false });
  });
});

it("the local credentials are the double's", () => {
  expect(salesforce.localEnv("http://127.0.0.1:9/salesforce")).toEqual({
    SALESFORCE_URL: "http://127.0.0.1:9/salesforce", SALESFORCE_CLIENT_ID: LOCAL_SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET: LOCAL_SALESFORCE_CLIENT_SECRET,
  });
});
