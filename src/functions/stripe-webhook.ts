/**
 * stripe-webhook — payment status from Stripe. The signature is checked on the
 * raw body; the event id, the status change and the CRM event are written in
 * one transaction, so a repeated event does nothing and a crash mid-way
 * leaves nothing half-done (Stripe will send it again).
 */
import type { AppDeps } from "../app-deps.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../db/request-snapshot.ts";
import type { Pool } from "../db/sql.ts";
import { HttpError } from "../http/http-error.ts";
import { z } from "zod";
import type { Handler } from "../http/json-endpoint.ts";
import { readRawBody } from "../http/read-json-body.ts";
import { jsonResponse, toErrorResponse } from "../http/responses.ts";
import type { Logger } from "../log.ts";
import { enqueue } from "../outbox/enqueue.ts";
import type { Fanout, NewEvent } from "../outbox/types.ts";
import { applyStatus } from "../stripe/payment-status.ts";
import { type Stripe, verifyStripeEvent } from "../stripe/stripe-client.ts";
import type { PaymentStatus } from "../validation/enums.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a Stripe event means for a payment, or null when it means nothing here. */
interface PaymentChange {
  paymentIntentId: string;
  to: PaymentStatus;
  requestId?: string;
  amount?: number;
  currency?: string;
}

/** The fields this handler relies on; a signed event without them is refused, not crashed on. */
const STRIPE_ID = /^[A-Za-z0-9_]{1,255}$/;

const EventEnvelope = z.object({
  id: z.string().regex(STRIPE_ID),
  type: z.string().regex(/^[a-z0-9_.]{1,255}$/),
  data: z.object({ object: z.looseObject({}) }),
});

const PaymentIntentFields = z.looseObject({
  id: z.string().regex(STRIPE_ID),
  amount: z.number().int().positive().optional(),
  currency: z.string().regex(/^[a-z]{3}$/).optional(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

export function paymentChangeOf(event: Stripe.Event): PaymentChange | null {
  const object = event.data.object as unknown as Record<string, unknown>;
  const requestIdOf = (metadata: unknown) => {
    const id = (metadata as Record<string, unknown> | null | undefined)?.request_id;
    return typeof id === "string" ? id : undefined;
  };
  switch (event.type) {
    case "payment_intent.succeeded":
    case "payment_intent.payment_failed":
    case "payment_intent.canceled": {
      const parsed = PaymentIntentFields.safeParse(object);
      if (!parsed.success) return null;
      const pi = parsed.data;
      const to = ({
        "payment_intent.succeeded": "paid",
        "payment_intent.payment_failed": "failed",
        "payment_intent.canceled": "canceled",
      } as const)[event.type];
      return { paymentIntentId: pi.id, to, requestId: requestIdOf(pi.metadata), amount: pi.amount, currency: pi.currency };
    }
    case "charge.refunded": {
      const ref = object.payment_intent;
      const pi = typeof ref === "string" ? ref : (ref as { id?: unknown } | null)?.id;
      // A partial refund leaves the request paid.
      const partial = object.refunded === false && Number(object.amount_refunded ?? 0) < Number(object.amount ?? 0);
      if (typeof pi !== "string" || !STRIPE_ID.test(pi) || partial) return null;
      return { paymentIntentId: pi, to: "refunded", requestId: requestIdOf(object.metadata) };
    }
    default:
      return null;
  }
}

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
  note?: "duplicate" | "ignored" | "unknown_payment" | "unchanged";
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
    const change = paymentChangeOf(event);
    if (!change) return { note: "ignored" as const };

    let [payment] = await tx<{ id: string; request_id: string; status: PaymentStatus }[]>`
      select id, request_id, status from payments
      where stripe_payment_intent_id = ${change.paymentIntentId} for update`;
    if (!payment && change.requestId && UUID.test(change.requestId) && change.amount && change.currency) {
      // A PaymentIntent made outside create-payment-intent but tagged with our request.
      [payment] = await tx<{ id: string; request_id: string; status: PaymentStatus }[]>`
        insert into payments (request_id, stripe_payment_intent_id, amount, currency, status)
        select id, ${change.paymentIntentId}, ${change.amount}, ${change.currency}, 'pending'
        from requests where id = ${change.requestId}
        returning id, request_id, status`;
    }
    if (!payment) {
      log.warn("stripe event for an unknown payment intent", { stripe_event: event.id, type: event.type });
      return { note: "unknown_payment" as const };
    }

    const snapshot = (await loadRequestSnapshot(tx, payment.request_id, { lock: true }))!;
    const paymentStatus = applyStatus(payment.status, change.to);
    if (paymentStatus !== payment.status) {
      await tx`update payments set status = ${paymentStatus}, updated_at = now() where id = ${payment.id}`;
    }
    const requestStatus = applyStatus(snapshot.payment_status, change.to);
    if (requestStatus === snapshot.payment_status) {
      log.info("stripe event leaves the request unchanged", {
        stripe_event: event.id,
        type: event.type,
        payment_status: snapshot.payment_status,
      });
      return { note: "unchanged" as const };
    }
    await tx`update requests set payment_status = ${requestStatus}, updated_at = now() where id = ${payment.request_id}`;
    const [paid] = await tx<{ amount: number; currency: string }[]>`
      select amount, currency from payments where id = ${payment.id}`;
    const crmEvent = {
      id: crypto.randomUUID(),
      type: "request.upserted" as const,
      recordType: "request" as const,
      recordId: payment.request_id,
      data: requestBody({
        ...snapshot,
        payment_status: requestStatus,
        payment: { payment_intent_id: change.paymentIntentId, amount: paid.amount, currency: paid.currency },
      }),
    };
    await enqueue(tx, crmEvent, fanout);
    return { event: crmEvent };
  });
}
