/**
 * stripe-webhook — payment status from Stripe. The signature is checked on the
 * raw body; the event id, the payment's facts, the request's status and the
 * CRM event are written in one transaction, so a repeated event does nothing
 * and a crash mid-way leaves nothing half-done (Stripe will send it again).
 *
 * Statuses come from facts (src/stripe/payment-status.ts), so any arrival
 * order of the same events ends in the same state. What the site did not
 * price never marks a request paid: a PaymentIntent it never created, or one
 * whose amount or currency is not the payment's, is recorded in
 * payment_anomalies for the operator, as is a second capture on one request.
 */
import type { AppDeps } from "../app-deps.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../db/request-snapshot.ts";
import type { Pool, Sql } from "../db/sql.ts";
import { HttpError } from "../http/http-error.ts";
import { z } from "zod";
import type { Handler } from "../http/json-endpoint.ts";
import { readRawBody } from "../http/read-json-body.ts";
import { jsonResponse, toErrorResponse } from "../http/responses.ts";
import type { Logger } from "../log.ts";
import { enqueue } from "../outbox/enqueue.ts";
import type { Fanout, NewEvent } from "../outbox/types.ts";
import { type EventFacts, eventFactsOf, STRIPE_ID } from "../stripe/event-facts.ts";
import { mergeFacts, paymentStatusOf, requestPaymentStatus } from "../stripe/payment-status.ts";
import { type Stripe, STRIPE_TOLERANCE_SECONDS, verifyStripeEvent } from "../stripe/stripe-client.ts";
import type { PaymentStatus } from "../validation/enums.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The fields this handler relies on; a signed event without them is refused, not crashed on. */
const EventEnvelope = z.object({
  id: z.string().regex(STRIPE_ID),
  type: z.string().regex(/^[a-z0-9_.]{1,255}$/),
  data: z.object({ object: z.looseObject({}) }),
});

export function stripeWebhook(deps: AppDeps): Handler {
  const log = deps.log.child({ function: "stripe-webhook" });
  return async (req) => {
    // Like every public function (CONTRACT §2); no CORS headers: no browser calls this.
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow: "POST, OPTIONS" } });
    try {
      if (req.method !== "POST") {
        throw new HttpError(405, "method_not_allowed", "Stripe sends events with POST.", undefined, { allow: "POST, OPTIONS" });
      }
      const secret = deps.config.stripe.webhookSecret;
      if (!secret) {
        log.error("STRIPE_WEBHOOK_SECRET is not set: refusing events (Stripe will retry them)");
        throw new HttpError(503, "webhook_not_configured", "The webhook is not configured yet.");
      }
      // No Content-Type check: the signature over the raw bytes is what proves an
      // event, and a missing one must read as 400 whatever the body's type.
      const signature = req.headers.get("stripe-signature");
      if (!signature) throw new HttpError(400, "missing_signature", "The Stripe-Signature header is missing.");
      // Stripe's check refuses a timestamp too far in the past only; one as far
      // in the future is as suspect (a replayable signature made ahead of time).
      const timestamp = Number(/(?:^|,)\s*t=(\d+)(?:,|$)/.exec(signature)?.[1]);
      if (timestamp > Date.now() / 1000 + STRIPE_TOLERANCE_SECONDS) {
        throw new HttpError(400, "invalid_signature", "The Stripe signature's timestamp is in the future.");
      }
      // 64 KiB like the other functions: the four event types subscribed carry a
      // PaymentIntent or a Charge, a few KiB each.
      const raw = new TextDecoder().decode(await readRawBody(req));
      let event: Stripe.Event;
      try {
        event = await verifyStripeEvent(raw, signature, secret);
      } catch (err) {
        throw new HttpError(400, "invalid_signature", `The Stripe signature does not verify: ${(err as Error).message}`);
      }
      if (!EventEnvelope.safeParse(event).success) {
        throw new HttpError(400, "malformed_event", "The event lacks an id, a type or data.object.");
      }
      const fanout = deps.outbox.fanout(false);
      const result = await applyStripeEvent(deps.sql, event, fanout, log);
      if (result.event) deps.outbox.afterCommit("stripe-webhook", result.event, fanout);
      return jsonResponse({ received: true, ...(result.note ? { note: result.note } : {}) });
    } catch (err) {
      return toErrorResponse(err, log);
    }
  };
}

interface ApplyResult {
  /** The CRM event written, when the request's payment status changed. */
  event?: NewEvent;
  note?: "duplicate" | "ignored" | "unknown_payment" | "unchanged" | "anomaly";
}

interface PaymentRow {
  id: string;
  request_id: string;
  stripe_payment_intent_id: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  captured: boolean;
  amount_refunded: number;
  canceled: boolean;
  failed: boolean;
  anomaly: string | null;
}

type AnomalyKind = "unknown_payment_intent" | "amount_mismatch" | "duplicate_capture";

async function recordAnomaly(
  tx: Sql,
  kind: AnomalyKind,
  event: Stripe.Event,
  change: EventFacts,
  requestId: string | null,
  expected?: { amount: number; currency: string },
) {
  await tx`
    insert into payment_anomalies (kind, stripe_payment_intent_id, stripe_event_id, event_type, request_id,
                                   amount, currency, expected_amount, expected_currency)
    values (${kind}, ${change.paymentIntentId}, ${event.id}, ${event.type}, ${requestId}::uuid,
            ${change.amount ?? null}, ${change.currency ?? null}, ${expected?.amount ?? null}, ${expected?.currency ?? null})
    on conflict (stripe_payment_intent_id, kind) do nothing`;
}

async function applyStripeEvent(
  sql: Pool,
  event: Stripe.Event,
  fanout: Fanout,
  log: Logger,
): Promise<ApplyResult> {
  return await sql.begin(async (tx) => {
    const [fresh] = await tx`
      insert into stripe_events (id, type) values (${event.id}, ${event.type})
      on conflict (id) do nothing returning id`;
    if (!fresh) return { note: "duplicate" as const };
    const change = eventFactsOf(event.type, event.data.object);
    if (!change) return { note: "ignored" as const };
    const fields = { stripe_event: event.id, type: event.type, payment_intent: change.paymentIntentId };

    const [known] = await tx<{ request_id: string }[]>`
      select request_id from payments where stripe_payment_intent_id = ${change.paymentIntentId}`;
    if (!known) {
      // Made outside this site (the dashboard, another integration): whatever its
      // metadata says, it proves nothing about what a request owes.
      const claimed = change.claimedRequestId && UUID.test(change.claimedRequestId) ? change.claimedRequestId.toLowerCase() : null;
      await recordAnomaly(tx, "unknown_payment_intent", event, change, claimed);
      log.warn("stripe event for a PaymentIntent this site did not create: recorded in payment_anomalies", fields);
      return { note: "unknown_payment" as const };
    }

    // The request first, then the payment: the order create-payment-intent locks in.
    const snapshot = (await loadRequestSnapshot(tx, known.request_id, { lock: true }))!;
    const [payment] = await tx<PaymentRow[]>`
      select id, request_id, stripe_payment_intent_id, amount, currency, status, captured, amount_refunded,
             canceled, failed, anomaly
      from payments where stripe_payment_intent_id = ${change.paymentIntentId} for update`;

    let anomaly = payment.anomaly;
    let recorded = false;
    const mismatch = (change.amount !== undefined && change.amount !== payment.amount) ||
      (change.currency !== undefined && change.currency !== payment.currency);
    if (mismatch && !anomaly) {
      anomaly = "amount_mismatch";
      recorded = true;
      await recordAnomaly(tx, "amount_mismatch", event, change, payment.request_id, payment);
      log.error("stripe event amount or currency differs from the payment's price: the payment no longer counts", {
        ...fields,
        amount: change.amount,
        currency: change.currency,
        expected_amount: payment.amount,
        expected_currency: payment.currency,
      });
    }
    const facts = mergeFacts(
      { captured: payment.captured, amountRefunded: payment.amount_refunded, canceled: payment.canceled, failed: payment.failed },
      change.facts,
    );
    facts.amountRefunded = Math.min(facts.amountRefunded, payment.amount);
    const status = paymentStatusOf(facts, payment.amount);
    await tx`
      update payments set captured = ${facts.captured}, amount_refunded = ${facts.amountRefunded},
                          canceled = ${facts.canceled}, failed = ${facts.failed}, status = ${status},
                          anomaly = ${anomaly}, updated_at = now()
      where id = ${payment.id}`;

    const payments = await tx<(PaymentRow & { created_at: Date })[]>`
      select id, stripe_payment_intent_id, amount, currency, status, captured, anomaly
      from payments where request_id = ${payment.request_id} order by created_at desc, id desc`;
    if (facts.captured && !payment.captured && !anomaly && payments.some((p) => p.id !== payment.id && p.captured && !p.anomaly)) {
      recorded = true;
      await recordAnomaly(tx, "duplicate_capture", event, change, payment.request_id, payment);
      log.error("a second payment captured money for one request: refund one (recorded in payment_anomalies)", {
        ...fields,
        request_id: payment.request_id,
      });
    }

    const requestStatus = requestPaymentStatus(payments);
    if (requestStatus === snapshot.payment_status) {
      log.info("stripe event leaves the request unchanged", { ...fields, payment_status: snapshot.payment_status });
      return { note: recorded ? "anomaly" as const : "unchanged" as const };
    }
    await tx`update requests set payment_status = ${requestStatus}, updated_at = now() where id = ${payment.request_id}`;
    // The payment the status stands for: one holding (or that held) the money, else the latest attempt.
    const counted = payments.filter((p) => !p.anomaly);
    const deciding = counted.find((p) => p.status === requestStatus) ?? counted[0] ?? payment;
    const crmEvent = {
      id: crypto.randomUUID(),
      type: "request.upserted" as const,
      recordType: "request" as const,
      recordId: payment.request_id,
      data: requestBody({
        ...snapshot,
        payment_status: requestStatus,
        payment: { payment_intent_id: deciding.stripe_payment_intent_id, amount: deciding.amount, currency: deciding.currency },
      }),
    };
    await enqueue(tx, crmEvent, fanout);
    return { event: crmEvent };
  });
}
