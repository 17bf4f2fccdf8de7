/**
 * The CRM bridge end to end: functions served by Deno write events in the
 * outbox, deliver them right after answering, and the sweeper (crm-dispatch,
 * called by the stack's timer) delivers whatever is left.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CrmLeadBody, CrmRequestBody } from "../../scripts/local/crm-contract.ts";
import { crmCli } from "../helpers/crm-cli.ts";
import { validCallback, validLead, validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { eventually, startTestStack, TEST_CRM_KEY, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => stack.crmSandbox!.reset());

const crm = () => stack.crmSandbox!;
const accepted = () => crm().accepted();
const eventIdsOf = async (aggregateId: string) =>
  (await stack.db.sql`select id from crm_events where record_id = ${aggregateId} order by seq`).map((r) => r.id);

describe("a whole journey reaches the CRM", () => {
  it("form-start → form-submit → create-payment-intent → stripe-webhook: exact bodies, headers and order", async () => {
    const lead = validLead("Journey@Example.fr");
    const { lead_id } = await (await stack.call("form-start", lead)).json();
    const submit = validSubmit("journey@example.fr");
    const { request_id } = await (await stack.call("form-submit", { ...submit, lead_id })).json();
    const pi = await (await stack.call("create-payment-intent", { request_id })).json();
    await stack.stripeDouble!.sendEvent("payment_intent.succeeded", pi.payment_intent_id);

    await eventually(() => accepted().length === 4);
    const calls = accepted();
    // Every body passes the CRM's own schema (the sandbox would have answered 422).
    for (const c of calls) (c.endpoint === "/leads" ? CrmLeadBody : CrmRequestBody).parse(c.body);

    const leadCall = calls.find((c) => c.endpoint === "/leads")!;
    expect(leadCall.body).toEqual({
      email: "journey@example.fr",
      phone: "+33612345678",
      firstName: "Marie",
      lastName: "Curie",
      serviceType: "photovoltaique",
      postalCode: "75005",
      source: "lovable-website",
      lovable_lead_id: lead_id,
      utm_source: "google",
      utm_medium: "cpc",
      utm_campaign: "pv-2026",
    });
    expect(leadCall.idempotencyKey).toBe((await eventIdsOf(lead_id))[0]);

    const requestCalls = calls.filter((c) => c.endpoint === "/requests");
    expect(requestCalls.map((c) => c.idempotencyKey)).toEqual(await eventIdsOf(request_id));
    const base = {
      lovable_request_id: request_id,
      email: "journey@example.fr",
      phone: "+33612345678",
      full_name: "Jean Dupont",
      client_type: "particulier",
      company_name: null,
      siren: null,
      type_raccordement: "definitif",
      usage: "maison individuelle",
      address: "1 rue de la Paix",
      city: "Paris",
      zip_code: "75002",
      phase: "monophase",
      power_kva: 12,
      is_viabilise: true,
      status: "submitted",
    };
    const payment = { payment_intent_id: pi.payment_intent_id, amount: pi.amount, currency: "eur" };
    expect(requestCalls.map((c) => c.body)).toEqual([
      { ...base, payment_status: "pending" },
      { ...base, payment_status: "pending", ...payment },
      { ...base, payment_status: "paid", ...payment },
    ]);
    const states = await stack.db.sql`select distinct state from crm_deliveries`;
    expect(states.map((s) => s.state)).toEqual(["delivered"]);
  });

  it("a call-back reaches /leads with its name split and its own source", async () => {
    const { callback_id } = await (await stack.call("contact-callback", validCallback())).json();
    await eventually(() => accepted().length === 1);
    expect(accepted()[0].body).toMatchObject({
      lovable_lead_id: callback_id, firstName: "Ana", lastName: "Lopez Garcia", phone: "+33698765432",
      source: "footer", email: null, serviceType: "non-specifie",
    });
  });
});

describe("the CRM failing", () => {
  it("never makes the visitor wait: the answer comes while the CRM is still busy", async () => {
    crm().setFaults({ mode: "slow", delayMs: 1_500, times: 1 });
    const res = await stack.call("form-start", validLead());
    expect(res.status).toBe(200);
    expect(crm().attempts()).toBeLessThanOrEqual(1);
    expect(accepted()).toHaveLength(0); // the CRM has not answered yet, the visitor has
    await eventually(() => accepted().length === 1, 5_000);
  });

  it("down for a while: forms still answer, every event arrives after recovery, each accepted once", async () => {
    crm().setFaults({ mode: "down" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await stack.call("form-start", validLead());
      expect(res.status).toBe(200);
      ids.push((await res.json()).lead_id);
    }
    const sub = await stack.call("form-submit", validSubmit());
    expect(sub.status).toBe(200);
    await eventually(async () => (await stack.db.sql`select 1 from crm_deliveries where state = 'pending' and attempts >= 1`).length >= 6);
    // Five server failures in a row: the circuit opens, nothing is sent meanwhile and nothing dies.
    await eventually(async () => (await stack.db.sql`select 1 from crm_destinations where name = 'monelec' and circuit_open_until is not null`).length === 1);
    expect(accepted()).toHaveLength(0);

    crm().setFaults({ mode: "ok" });
    await eventually(() => accepted().length === 6, 10_000);
    const keys = accepted().map((c) => c.idempotencyKey);
    expect(new Set(keys).size).toBe(6);
    expect(accepted().filter((c) => c.endpoint === "/leads").map((c) => (c.body as { lovable_lead_id: string }).lovable_lead_id).sort())
      .toEqual([...ids].sort());
    expect((await stack.db.sql`select 1 from crm_deliveries where state = 'dead'`)).toHaveLength(0);
    await eventually(async () => (await stack.db.sql`select 1 from crm_destinations where circuit_open_until is null`).length === 1);
  });

  it("429 with Retry-After is waited out", async () => {
    crm().setFaults({ mode: "throttle", retryAfter: 1, times: 1 });
    const started = Date.now();
    const { lead_id } = await (await stack.call("form-start", validLead())).json();
    await eventually(() => accepted().length === 1, 10_000);
    expect(Date.parse(accepted()[0].receivedAt) - started).toBeGreaterThanOrEqual(1_000); // schedule alone: 200 ms
    // The completion is recorded a moment after the CRM's answer (batched).
    const row = await eventually(async () => {
      const [r] = await stack.db.sql`select attempts, state from crm_deliveries where record_id = ${lead_id}`;
      return r?.state === "delivered" ? r : undefined;
    });
    expect(row).toEqual({ attempts: 2, state: "delivered" });
  });

  it("422 is dead after one attempt, listed by `crm failed`; `crm retry` sends the record's current data", async () => {
    crm().setFaults({ mode: "reject" });
    const { lead_id } = await (await stack.call("form-start", validLead())).json();
    const [eventId] = await eventIdsOf(lead_id);
    await eventually(async () => (await stack.db.sql`select 1 from crm_deliveries where event_id = ${eventId} and state = 'dead'`).length === 1);
    const [row] = await stack.db.sql`select attempts, last_status from crm_deliveries where event_id = ${eventId}`;
    expect(row).toEqual({ attempts: 1, last_status: 422 });

    const env = { DATABASE_URL: stack.databaseUrl };
    const failed = await crmCli(["failed", "--json"], env);
    expect(failed.code).toBe(0);
    expect(JSON.parse(failed.stdout)).toContainEqual(expect.objectContaining({ event_id: eventId, destination: "monelec", last_status: 422, attempts: 1 }));
    const human = await crmCli(["failed"], env);
    expect(human.stdout).toContain(eventId);

    crm().setFaults({ mode: "ok" });
    await stack.db.sql`update leads set lastname = 'Corrigé' where id = ${lead_id}`; // the operator fixes the data
    const retried = await crmCli(["retry", eventId], env);
    expect(retried.code).toBe(0);
    await eventually(() => accepted().some((c) => (c.body as { lovable_lead_id: string }).lovable_lead_id === lead_id), 10_000);
    const sent = accepted().find((c) => (c.body as { lovable_lead_id: string }).lovable_lead_id === lead_id)!;
    expect((sent.body as { lastName: string }).lastName).toBe("Corrigé");
    expect(sent.idempotencyKey).not.toBe(eventId); // a new event: the current snapshot
    const status = JSON.parse((await crmCli(["status", "--json"], env)).stdout);
    expect(status.destinations.find((d: { name: string }) => d.name === "monelec").counts.dead).toBe(0);
  });
});

describe("logs", () => {
  it("of everything above contain no API key, no full email, no full phone", () => {
    const text = stack.logs.join("\n");
    expect(stack.logs.length).toBeGreaterThan(10);
    for (const line of stack.logs) expect(() => JSON.parse(line), line).not.toThrow();
    expect(text).not.toContain(TEST_CRM_KEY);
    expect(text).not.toContain(stack.webhookSecret);
    expect(text).not.toMatch(/[a-z0-9.-]+@example\.fr/i);
    expect(text).not.toContain("612345678");
    expect(text).not.toContain("698765432");
    expect(text).toMatch(/"msg":"crm delivery"/);
  });
});
