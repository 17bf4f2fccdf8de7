/**
 * One payment at a time per request, with the shipped defaults (one Stripe
 * call per request per STRIPE_REQUEST_INTERVAL_MS): concurrent
 * create-payment-intent calls for one request make one PaymentIntent at the
 * Stripe double and one payment row, however many isolates ask.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ STRIPE_REQUEST_INTERVAL_MS: "1500" });
});
afterAll(async () => {
  await stack?.close();
});

const newRequest = async () => (await (await stack.call("form-submit", validSubmit())).json()).request_id as string;
const stripeCallsFor = (requestId: string, before: number) =>
  stack.stripeDouble!.apiCalls().slice(before).filter((c) => c.method === "POST" && c.path === "/v1/payment_intents" && c.idempotencyKey?.includes(requestId));

describe("create-payment-intent under concurrency", () => {
  it("20 concurrent calls for one request: one PaymentIntent, one payment row, one Stripe call", async () => {
    const requestId = await newRequest();
    const callsBefore = stack.stripeDouble!.apiCalls().length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => stack.call("create-payment-intent", { request_id: requestId })));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    const ok = bodies.filter((_, i) => answers[i].status === 200);
    expect(ok).toHaveLength(1);
    // The others waited their turn and were told to come back (no second Stripe call meanwhile).
    for (const [i, a] of answers.entries()) {
      if (a.status !== 200) {
        expect(a.status).toBe(429);
        expect(bodies[i].error.code).toBe("rate_limited");
        expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
    }
    const intents = stack.stripeDouble!.paymentIntents().filter((pi) => pi.metadata.request_id === requestId);
    expect(intents.map((pi) => pi.id)).toEqual([ok[0].payment_intent_id]);
    expect(await stack.db.sql`select 1 from payments where request_id = ${requestId}`).toHaveLength(1);
    expect(stripeCallsFor(requestId, callsBefore)).toHaveLength(1);
    const [{ n }] = await stack.db.sql`select count(*)::int as n from crm_events where record_id = ${requestId}`;
    expect(n).toBe(2); // submitted, then pending with its payment

    // After the interval, asking again gives the same PaymentIntent back.
    await new Promise((r) => setTimeout(r, 1600));
    const again = await stack.call("create-payment-intent", { request_id: requestId });
    expect(again.status).toBe(200);
    expect((await again.json()).payment_intent_id).toBe(ok[0].payment_intent_id);
  });

  it("20 concurrent calls on 5 requests: one PaymentIntent each", async () => {
    const requests = await Promise.all(Array.from({ length: 5 }, newRequest));
    await Promise.all(Array.from({ length: 20 }, (_, i) => stack.call("create-payment-intent", { request_id: requests[i % 5] })));
    for (const requestId of requests) {
      expect(stack.stripeDouble!.paymentIntents().filter((pi) => pi.metadata.request_id === requestId)).toHaveLength(1);
      expect(await stack.db.sql`select 1 from payments where request_id = ${requestId}`).toHaveLength(1);
    }
  });
});
