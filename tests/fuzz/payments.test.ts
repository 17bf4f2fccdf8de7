/**
 * Property-based fuzzing of create-payment-intent and stripe-webhook over
 * HTTP, against the real Deno-served functions, Postgres and the Stripe
 * double (one stack for the file). See payment-model.ts for the properties.
 * FUZZ_RUNS sets the cases per function (see harness.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";
import { expectEveryEventAcceptedOnce, FUZZ_RUNS, FuzzReport, fuzzTimeout, runFuzz } from "./harness.ts";
import { CpiModel, cpiCase, loadPrices, runCpiBatch, runWebhookBatch, webhookCase, WebhookModel } from "./payment-model.ts";

let stack: TestStack;
const reports: FuzzReport[] = [];

beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "0" });
});
afterAll(async () => {
  for (const r of reports) console.log(r.summary());
  await stack?.close();
});

describe("fuzz create-payment-intent", () => {
  it(`${FUZZ_RUNS} generated requests: 200 + one payment + one event for an unpaid request, the open PaymentIntent again, 404/409/400 otherwise, never 5xx`, async () => {
    const report = new FuzzReport("create-payment-intent");
    reports.push(report);
    const model = new CpiModel(stack.db.sql, await loadPrices(stack.db.sql));
    await runFuzz({ report, arb: cpiCase, runBatch: (cases) => runCpiBatch(stack, model, cases, report) });
    expect(report.cases).toBeGreaterThanOrEqual(FUZZ_RUNS);

    // Every payment row is a PaymentIntent the Stripe double made, for that request and amount.
    const payments = await stack.db.sql<{ request_id: string; pi: string; amount: number }[]>`
      select request_id::text, stripe_payment_intent_id as pi, amount from payments`;
    const intents = new Map(stack.stripeDouble!.paymentIntents().map((pi) => [pi.id, pi]));
    for (const p of payments) {
      const intent = intents.get(p.pi);
      expect(intent?.amount, p.pi).toBe(p.amount);
      // The visitor may have sent the id in upper case: the same uuid.
      expect(String(intent?.metadata.request_id).trim().toLowerCase(), p.pi).toBe(p.request_id);
    }
  }, fuzzTimeout());
});

describe("fuzz stripe-webhook", () => {
  it(`${FUZZ_RUNS} generated events: never 5xx, bad signature → 400 and nothing written, a repeated id does nothing, statuses only move forward`, async () => {
    const report = new FuzzReport("stripe-webhook");
    reports.push(report);
    const model = new WebhookModel(stack.db.sql, await loadPrices(stack.db.sql));
    await runFuzz({ report, arb: webhookCase, runBatch: (cases) => runWebhookBatch(stack, model, cases, report) });
    expect(report.cases).toBeGreaterThanOrEqual(FUZZ_RUNS);
    expect(report.oracle.exact ?? 0).toBeGreaterThan(report.cases * 0.4);
  }, fuzzTimeout());
});

describe("after the fuzzing", () => {
  it("every committed event reached the CRM exactly once, none dead", () => expectEveryEventAcceptedOnce(stack), 90_000);
});
