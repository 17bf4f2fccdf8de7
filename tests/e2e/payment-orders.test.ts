/**
 * Every ordering of up to four Stripe events (succeeded, payment_failed,
 * canceled, charge.refunded in full or in part) on one payment, and on two
 * payments of one request, sent as real signed events to the real
 * stripe-webhook function: each request ends in the state the independent
 * model (tests/helpers/stripe-payment-oracle.ts) says, whatever the order.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_KINDS, type EventKind, orderings, paymentOutcome, requestOutcome, type Status } from "../helpers/stripe-payment-oracle.ts";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  // The CRM bridge off: events are kept as skipped, so only the webhook does work.
  stack = await startTestStack({ MONELEC_API_KEY: "" });
});
afterAll(async () => {
  await stack?.close();
});

const AMOUNT = 14900;
type Step = { payment: 0 | 1; kind: EventKind };
interface Case {
  steps: Step[];
  requestId: string;
  pis: string[];
}

function eventFor(kind: EventKind, pi: string, requestId: string, n: number) {
  const base = { id: pi, object: "payment_intent", amount: AMOUNT, currency: "eur", metadata: { request_id: requestId }, livemode: false };
  const charge = (refunded: number) => ({
    id: `ch_${pi.slice(3)}`, object: "charge", amount: AMOUNT, amount_captured: AMOUNT, amount_refunded: refunded,
    refunded: refunded === AMOUNT, captured: true, paid: true, status: "succeeded", currency: "eur", payment_intent: pi,
    metadata: { request_id: requestId },
  });
  const [type, object] = {
    succeeded: ["payment_intent.succeeded", { ...base, status: "succeeded", amount_received: AMOUNT }],
    failed: ["payment_intent.payment_failed", { ...base, status: "requires_payment_method", last_payment_error: { code: "card_declined" } }],
    canceled: ["payment_intent.canceled", { ...base, status: "canceled" }],
    refund_full: ["charge.refunded", charge(AMOUNT)],
    refund_partial: ["charge.refunded", charge(Math.floor(AMOUNT / 3))],
  }[kind] as [string, object];
  return { id: `evt_${pi.slice(3)}_${n}`, object: "event", api_version: "2025-01-27.acacia", created: Math.floor(Date.now() / 1000), type, data: { object } };
}

/** Requests with `payments` payments each (the second made a minute after the first), straight in the database. */
async function makeRequests(count: number, payments: number): Promise<Array<{ requestId: string; pis: string[] }>> {
  const sql = stack.db.sql;
  const rows = await sql<{ id: string }[]>`
    with c as (
      insert into customers (email, phone, full_name, client_type)
      select 'order-' || gen_random_uuid() || '@example.fr', '+33612345678', 'Ordre Test', 'particulier'
      from generate_series(1, ${count}) returning id, email, phone, full_name, client_type
    )
    insert into requests (customer_id, type_raccordement, address, city, zip_code, status, payment_status,
                          email, phone, full_name, client_type)
    select id, 'definitif', '1 rue du Test', 'Paris', '75001', 'submitted', 'pending', email, phone, full_name, client_type from c
    returning id::text`;
  const made = rows.map((r) => ({ requestId: r.id, pis: Array.from({ length: payments }, () => `pi_${crypto.randomUUID().replace(/-/g, "")}`) }));
  const flat = made.flatMap((m) => m.pis.map((pi, i) => ({ request: m.requestId, pi, age: payments - i })));
  await sql`
    insert into payments (request_id, stripe_payment_intent_id, amount, currency, status, created_at)
    select t.request_id, t.pi, ${AMOUNT}, 'eur', 'pending', now() - t.age * interval '1 minute'
    from unnest(${flat.map((f) => f.request)}::uuid[], ${flat.map((f) => f.pi)}::text[], ${flat.map((f) => f.age)}::int[]) as t(request_id, pi, age)`;
  return made;
}

async function send(event: object): Promise<number> {
  const payload = JSON.stringify(event);
  const res = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret: stack.webhookSecret }) },
    body: payload,
  });
  await res.arrayBuffer();
  return res.status;
}

async function run(cases: Case[], workers = 12): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < cases.length) {
      const c = cases[next++];
      for (const [n, step] of c.steps.entries()) {
        const status = await send(eventFor(step.kind, c.pis[step.payment], c.requestId, n));
        if (status !== 200) problems.push(`${describeSteps(c.steps)}: event ${n} answered ${status}`);
      }
    }
  }));
  return problems;
}

const describeSteps = (steps: Step[]) => steps.map((s) => `${"AB"[s.payment]}.${s.kind}`).join(" → ");

async function check(cases: Case[]): Promise<string[]> {
  const sql = stack.db.sql;
  const rows = await sql<{ id: string; payment_status: Status; statuses: Status[]; duplicate: boolean }[]>`
    select r.id::text, r.payment_status,
           array(select p.status from payments p where p.request_id = r.id order by p.created_at) as statuses,
           exists(select 1 from payment_anomalies a where a.request_id = r.id and a.kind = 'duplicate_capture') as duplicate
    from requests r where r.id = any(${cases.map((c) => c.requestId)}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const problems: string[] = [];
  for (const c of cases) {
    const seen = c.pis.map((_, i) => new Set(c.steps.filter((s) => s.payment === i).map((s) => s.kind)));
    const want = requestOutcome(seen);
    const got = byId.get(c.requestId)!;
    const wantPayments = seen.map(paymentOutcome);
    if (got.payment_status !== want.status || JSON.stringify(got.statuses) !== JSON.stringify(wantPayments) || got.duplicate !== want.duplicateCapture) {
      problems.push(
        `${describeSteps(c.steps)}: request ${got.payment_status} (model ${want.status}), payments ${got.statuses} (model ${wantPayments}), ` +
          `duplicate-capture alert ${got.duplicate} (model ${want.duplicateCapture})`,
      );
    }
  }
  return problems;
}

describe("every arrival order ends in the modelled state", () => {
  it("one payment: every ordering of up to four of the five events (205 orderings)", async () => {
    const all = [...orderings(EVENT_KINDS, 4)];
    expect(all).toHaveLength(5 + 20 + 60 + 120);
    const made = await makeRequests(all.length, 1);
    const cases = all.map((kinds, i) => ({ ...made[i], steps: kinds.map((kind) => ({ payment: 0 as const, kind })) }));
    expect(await run(cases)).toEqual([]);
    expect(await check(cases)).toEqual([]);
  }, 180_000);

  it("two payments of one request: every ordering of up to four events across both (5,860 orderings)", async () => {
    const items: Step[] = [0, 1].flatMap((payment) => EVENT_KINDS.map((kind) => ({ payment: payment as 0 | 1, kind })));
    const all = [...orderings(items, 4)];
    expect(all).toHaveLength(10 + 90 + 720 + 5040);
    const made = await makeRequests(all.length, 2);
    const cases = all.map((steps, i) => ({ ...made[i], steps }));
    expect(await run(cases)).toEqual([]);
    expect(await check(cases)).toEqual([]);
  }, 900_000);
});
