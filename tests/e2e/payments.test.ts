/**
 * create-payment-intent and stripe-webhook end to end: the real Stripe SDK
 * inside the Deno-served functions talks to the local Stripe double, and
 * events are signed with the SDK's own test-header helper.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEvent } from "../../scripts/local/stripe-events.ts";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";
import { validSubmit } from "../../scripts/lib/sample-bodies.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

async function newRequest(type = "definitif") {
  const body = validSubmit();
  body.request.type_raccordement = type;
  return (await (await stack.call("form-submit", body)).json()) as { request_id: string; customer_id: string };
}

async function pay(requestId: string) {
  const res = await stack.call("create-payment-intent", { request_id: requestId });
  expect(res.status).toBe(200);
  return (await res.json()) as { client_secret: string; payment_intent_id: string; amount: number; currency: string };
}

/** Posts a signed (or deliberately mis-signed) event to stripe-webhook. */
async function sendEvent(event: object, opts: { secret?: string; timestamp?: number; signature?: string | null } = {}) {
  const payload = JSON.stringify(event);
  const header = opts.signature !== undefined
    ? opts.signature
    : Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? stack.webhookSecret, timestamp: opts.timestamp });
  return fetch(`${stack.functionsUrl}/stripe-webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(header === null ? {} : { "stripe-signature": header }) },
    body: payload,
  });
}

const piObject = (id: string, requestId: string, amount = 14900) => ({
  id, object: "payment_intent", amount, currency: "eur", status: "succeeded", metadata: { request_id: requestId },
});
const statusOf = async (requestId: string) =>
  (await stack.db.sql`select payment_status from requests where id = ${requestId}`)[0].payment_status;

describe("create-payment-intent", () => {
  it("charges the server's price for the request's type, never the client's", async () => {
    const { request_id } = await newRequest("photovoltaique");
    // A client's own amount or currency is refused (unknown fields), nothing created.
    const forged = await stack.call("create-payment-intent", { request_id, amount: 1, currency: "usd" });
    expect(forged.status).toBe(400);
    expect((await forged.json()).error.codes).toEqual({ amount: "unknown_field", currency: "unknown_field" });
    expect(await stack.db.sql`select id from payments where request_id = ${request_id}`).toEqual([]);
    const res = await stack.call("create-payment-intent", { request_id });
    const answer = await res.json();
    const [price] = await stack.db.sql`select amount, currency from prices where type_raccordement = 'photovoltaique'`;
    expect(answer).toMatchObject({ amount: price.amount, currency: price.currency });
    expect(answer.client_secret).toMatch(new RegExp(`^${answer.payment_intent_id}_secret_`));
    const pi = stack.stripeDouble!.paymentIntents().find((p) => p.id === answer.payment_intent_id)!;
    expect(pi).toMatchObject({ amount: price.amount, currency: "eur", metadata: { request_id } });
    const [payment] = await stack.db.sql`select amount, currency, status from payments where stripe_payment_intent_id = ${pi.id}`;
    expect(payment).toEqual({ amount: price.amount, currency: "eur", status: "pending" });
  });

  it("a price change in the table is what the next payment charges", async () => {
    await stack.db.sql`update prices set amount = 20000 where type_raccordement = 'modification'`;
    const { request_id } = await newRequest("modification");
    expect((await pay(request_id)).amount).toBe(20000);
  });

  it("reuses the open PaymentIntent when asked again", async () => {
    const { request_id } = await newRequest();
    const first = await pay(request_id);
    const second = await pay(request_id);
    expect(second.payment_intent_id).toBe(first.payment_intent_id);
    const rows = await stack.db.sql`select 1 from payments where request_id = ${request_id}`;
    expect(rows).toHaveLength(1);
  });

  it("404 for an unknown request, 400 for a malformed id, 409 once paid", async () => {
    const unknown = await stack.call("create-payment-intent", { request_id: crypto.randomUUID() });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe("request_not_found");
    const malformed = await stack.call("create-payment-intent", { request_id: "1; drop table requests" });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error).toMatchObject({ fields: { request_id: "doit être un UUID" }, codes: { request_id: "invalid_format" } });

    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    await stack.stripeDouble!.sendEvent("payment_intent.succeeded", payment_intent_id);
    const again = await stack.call("create-payment-intent", { request_id });
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe("already_paid");
  });
});

describe("stripe-webhook", () => {
  it("succeeded → paid, refunded → refunded (through the double's signed events)", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const paid = await stack.stripeDouble!.sendEvent("payment_intent.succeeded", payment_intent_id);
    expect(paid.webhookStatus).toBe(200);
    expect(await statusOf(request_id)).toBe("paid");
    await stack.stripeDouble!.sendEvent("charge.refunded", payment_intent_id);
    expect(await statusOf(request_id)).toBe("refunded");
    const [payment] = await stack.db.sql`select status from payments where stripe_payment_intent_id = ${payment_intent_id}`;
    expect(payment.status).toBe("refunded");
  });

  it("payment_failed → failed, canceled → canceled", async () => {
    const a = await newRequest();
    await stack.stripeDouble!.sendEvent("payment_intent.payment_failed", (await pay(a.request_id)).payment_intent_id);
    expect(await statusOf(a.request_id)).toBe("failed");
    const b = await newRequest();
    await stack.stripeDouble!.sendEvent("payment_intent.canceled", (await pay(b.request_id)).payment_intent_id);
    expect(await statusOf(b.request_id)).toBe("canceled");
  });

  it("a late payment_failed after succeeded leaves it paid", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    expect((await sendEvent(buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id)))).status).toBe(200);
    const late = await sendEvent(buildEvent("payment_intent.payment_failed", { ...piObject(payment_intent_id, request_id), status: "requires_payment_method" }));
    expect(late.status).toBe(200);
    expect(await statusOf(request_id)).toBe("paid");
  });

  it("an event id already seen: 200 and nothing done again", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const event = buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id));
    expect((await sendEvent(event)).status).toBe(200);
    const eventsBefore = await stack.db.sql`select count(*)::int as n from crm_events where record_id = ${request_id}`;
    const again = await sendEvent(event);
    expect(again.status).toBe(200);
    expect((await again.json()).note).toBe("duplicate");
    const eventsAfter = await stack.db.sql`select count(*)::int as n from crm_events where record_id = ${request_id}`;
    expect(eventsAfter).toEqual(eventsBefore);
  });

  it("missing, wrong and expired signatures: 400 and nothing written", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const event = buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id));
    const missing = await sendEvent(event, { signature: null });
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.code).toBe("missing_signature");
    const wrong = await sendEvent(event, { secret: "whsec_not_the_right_one" });
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).error.code).toBe("invalid_signature");
    const expired = await sendEvent(event, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(expired.status).toBe(400);
    const garbage = await sendEvent(event, { signature: "t=1,v1=deadbeef" });
    expect(garbage.status).toBe(400);
    expect(await statusOf(request_id)).toBe("pending");
    expect(await stack.db.sql`select 1 from stripe_events where id = ${event.id}`).toHaveLength(0);
  });

  it("a tampered body does not verify", async () => {
    const { request_id } = await newRequest();
    const event = buildEvent("payment_intent.succeeded", piObject("pi_x", request_id));
    const header = Stripe.webhooks.generateTestHeaderString({ payload: JSON.stringify(event), secret: stack.webhookSecret });
    const res = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": header },
      body: JSON.stringify({ ...event, type: "payment_intent.canceled" }),
    });
    expect(res.status).toBe(400);
  });

  it("other event types: 200, ignored; unknown payment intents: 200, nothing changed", async () => {
    const other = await sendEvent(buildEvent("customer.created" as never, { id: "cus_1", object: "customer" } as never));
    expect(other.status).toBe(200);
    expect((await other.json()).note).toBe("ignored");
    const unknown = await sendEvent(buildEvent("payment_intent.succeeded", piObject("pi_unknown", "not-a-uuid")));
    expect(unknown.status).toBe(200);
    expect((await unknown.json()).note).toBe("unknown_payment");
  });

  it("needs no JWT (verify_jwt = false), answers preflights, refuses GET and bodies over 64 KiB", async () => {
    const get = await fetch(`${stack.functionsUrl}/stripe-webhook`);
    expect(get.status).toBe(405);
    expect((await get.json()).error.code).toBe("method_not_allowed");
    expect((await fetch(`${stack.functionsUrl}/stripe-webhook`, { method: "OPTIONS" })).status).toBe(204);
    const { request_id } = await newRequest();
    const event = buildEvent("payment_intent.succeeded", { ...piObject("pi_big", request_id), description: "x".repeat(70 * 1024) });
    const big = await sendEvent(event);
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe("payload_too_large");
    expect(await statusOf(request_id)).toBe("pending");
  });

  it("judges an event by its signature, not its Content-Type", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const payload = JSON.stringify(buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id)));
    const unsigned = await fetch(`${stack.functionsUrl}/stripe-webhook`, { method: "POST", body: payload }); // text/plain
    expect(unsigned.status).toBe(400);
    expect((await unsigned.json()).error.code).toBe("missing_signature");
    const signed = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
      method: "POST",
      headers: { "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret: stack.webhookSecret }) },
      body: payload,
    });
    expect(signed.status).toBe(200);
    expect(await statusOf(request_id)).toBe("paid");
  });
});

describe("stripe-webhook robustness", () => {
  it("a correctly signed but malformed event is a 400, not a crash, and writes nothing", async () => {
    for (const event of [
      { type: "payment_intent.succeeded", data: { object: { id: "pi_1" } } },
      { id: "evt_no_data", type: "payment_intent.succeeded" },
      { id: "evt_bad_object", type: "payment_intent.succeeded", data: { object: "x" } },
      [1, 2, 3],
    ]) {
      const res = await sendEvent(event);
      expect(res.status, JSON.stringify(event)).toBe(400);
    }
    expect(await stack.db.sql`select 1 from stripe_events where id in ('evt_no_data', 'evt_bad_object')`).toHaveLength(0);
  });

  it("odd payloads inside a valid envelope are ignored, never a 5xx", async () => {
    const { request_id } = await newRequest();
    const odd = [
      buildEvent("payment_intent.succeeded", { id: "pi_odd", object: "payment_intent", amount: "lots", metadata: null } as never),
      buildEvent("payment_intent.succeeded", { id: "pi_odd2", object: "payment_intent", amount: 10, currency: "eur", metadata: { request_id: 42 } } as never),
      buildEvent("charge.refunded", { id: "ch_1", object: "charge", payment_intent: null } as never),
      buildEvent("charge.refunded", { id: "ch_2", object: "charge", payment_intent: { id: 5 } } as never),
    ];
    for (const event of odd) expect((await sendEvent(event)).status).toBeLessThan(500);
    expect(await statusOf(request_id)).toBe("pending");
  });
});

describe("what the site did not price never marks a request paid", () => {
  const anomalies = (pi: string) => stack.db.sql`select kind, request_id::text, amount, currency from payment_anomalies where stripe_payment_intent_id = ${pi}`;

  it("a signed success for 1 USD on a known PaymentIntent: request unpaid, anomaly recorded", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const res = await sendEvent(buildEvent("payment_intent.succeeded", { ...piObject(payment_intent_id, request_id, 100), currency: "usd" }));
    expect(res.status).toBe(200);
    expect(await statusOf(request_id)).toBe("pending");
    expect(await anomalies(payment_intent_id)).toEqual([{ kind: "amount_mismatch", request_id, amount: 100, currency: "usd" }]);
    expect(stack.logs.some((l) => l.includes('"level":"error"') && l.includes("amount or currency differs"))).toBe(true);
  });

  it("a success for a PaymentIntent the site never created, naming a real request: unpaid, anomaly recorded, no payment row", async () => {
    const { request_id } = await newRequest();
    const res = await sendEvent(buildEvent("payment_intent.succeeded", piObject("pi_made_in_dashboard", request_id, 14900)));
    expect((await res.json()).note).toBe("unknown_payment");
    expect(await statusOf(request_id)).toBe("pending");
    expect(await stack.db.sql`select 1 from payments where request_id = ${request_id}`).toHaveLength(0);
    expect(await anomalies("pi_made_in_dashboard")).toEqual([{ kind: "unknown_payment_intent", request_id, amount: 14900, currency: "eur" }]);
  });

  it("a second captured payment on one request: still paid, an operator alert; refunding the duplicate leaves it paid", async () => {
    const { request_id } = await newRequest();
    const first = await pay(request_id);
    await stack.stripeDouble!.sendEvent("payment_intent.canceled", first.payment_intent_id);
    const second = await pay(request_id);
    expect(second.payment_intent_id).not.toBe(first.payment_intent_id);
    // Both end up captured (the canceled one's late success, as Stripe may deliver out of order).
    await sendEvent(buildEvent("payment_intent.succeeded", piObject(first.payment_intent_id, request_id)));
    await stack.stripeDouble!.sendEvent("payment_intent.succeeded", second.payment_intent_id);
    expect(await statusOf(request_id)).toBe("paid");
    const [dup] = await stack.db.sql`select kind from payment_anomalies where request_id = ${request_id}`;
    expect(dup.kind).toBe("duplicate_capture");
    await stack.stripeDouble!.sendEvent("charge.refunded", second.payment_intent_id);
    expect(await statusOf(request_id)).toBe("paid"); // 149 € still captured on the first
  });

  it("a refund delivered before its success still ends refunded", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const refund = buildEvent("charge.refunded", {
      id: "ch_early", object: "charge", amount: 14900, amount_captured: 14900, amount_refunded: 14900, refunded: true,
      currency: "eur", payment_intent: payment_intent_id, metadata: { request_id },
    });
    expect((await sendEvent(refund)).status).toBe(200);
    expect((await sendEvent(buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id)))).status).toBe(200);
    expect(await statusOf(request_id)).toBe("refunded");
  });

  it("a signature timestamp beyond the tolerance in the future is refused", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    const future = await sendEvent(buildEvent("payment_intent.succeeded", piObject(payment_intent_id, request_id)), {
      timestamp: Math.floor(Date.now() / 1000) + 6 * 60,
    });
    expect(future.status).toBe(400);
    expect((await future.json()).error.code).toBe("invalid_signature");
    expect(await statusOf(request_id)).toBe("pending");
  });
});

describe("create-payment-intent asks Stripe about the latest attempt first", () => {
  it("a PaymentIntent taking money (processing, requires_action) → 409 payment_in_progress, no new one", async () => {
    for (const status of ["processing", "requires_action", "requires_capture"] as const) {
      const { request_id } = await newRequest();
      const { payment_intent_id } = await pay(request_id);
      stack.stripeDouble!.setStatus(payment_intent_id, status);
      const res = await stack.call("create-payment-intent", { request_id });
      expect(res.status, status).toBe(409);
      expect((await res.json()).error.code, status).toBe("payment_in_progress");
      expect(await stack.db.sql`select 1 from payments where request_id = ${request_id}`).toHaveLength(1);
    }
  });

  it("succeeded at Stripe while its webhook has not arrived → 409 already_paid, no new one", async () => {
    const { request_id } = await newRequest();
    const { payment_intent_id } = await pay(request_id);
    stack.stripeDouble!.setStatus(payment_intent_id, "succeeded");
    const res = await stack.call("create-payment-intent", { request_id });
    expect(res.status).toBe(409);
    expect((await res.json()).error.code).toBe("already_paid");
    expect(await stack.db.sql`select 1 from payments where request_id = ${request_id}`).toHaveLength(1);
  });

  it("a canceled one is replaced by a new attempt with its own Stripe idempotency key", async () => {
    const { request_id } = await newRequest();
    const first = await pay(request_id);
    await stack.stripeDouble!.sendEvent("payment_intent.canceled", first.payment_intent_id);
    const second = await pay(request_id);
    expect(second.payment_intent_id).not.toBe(first.payment_intent_id);
    const keys = stack.stripeDouble!.apiCalls().filter((c) => c.method === "POST" && c.idempotencyKey?.includes(request_id)).map((c) => c.idempotencyKey);
    expect(keys).toEqual([`create-payment-intent:${request_id}:1`, `create-payment-intent:${request_id}:2`]);
  });

  it("Stripe failing: a generic 502 for the visitor, the details logged for the operator", async () => {
    const { request_id } = await newRequest();
    stack.stripeDouble!.failNext(3, { status: 500, type: "api_error", message: "Stripe internal detail sk_test_xyz" });
    const res = await stack.call("create-payment-intent", { request_id });
    expect(res.status).toBe(502);
    const body = await res.json();
    expect(body.error.code).toBe("payment_provider_error");
    expect(body.error.message).not.toMatch(/internal detail|sk_test/);
    const logged = stack.logs.filter((l) => l.includes('"msg":"stripe call failed"') && l.includes(request_id)).map((l) => JSON.parse(l));
    expect(logged[0]).toMatchObject({ level: "error", call: "create", stripe_status: 500 });
    expect((await stack.call("create-payment-intent", { request_id })).status).toBe(200);
  });
});
