/**
 * What a Stripe event says about one payment, read from the event's object
 * (Stripe's API reference: the PaymentIntent's `status`; the Charge's
 * `amount_refunded`, which only grows and equals `amount` once fully
 * refunded). Null when the event says nothing about a payment.
 */
import { z } from "zod";
import type { PaymentFacts } from "./payment-status.ts";

export const STRIPE_ID = /^[A-Za-z0-9_]{1,255}$/;

export interface EventFacts {
  paymentIntentId: string;
  facts: Partial<PaymentFacts>;
  /** The object's amount and currency (the PaymentIntent's, or the charge's). */
  amount?: number;
  currency?: string;
  /** `metadata.request_id` as the object carries it (unverified). */
  claimedRequestId?: string;
}

const Amount = z.number().int().nonnegative().max(2 ** 31 - 1);
const Currency = z.string().regex(/^[a-z]{3}$/);

const PaymentIntentFields = z.looseObject({
  id: z.string().regex(STRIPE_ID),
  status: z.string().max(64).optional(),
  amount: Amount.optional(),
  currency: Currency.optional(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

const ChargeFields = z.looseObject({
  payment_intent: z.union([z.string().regex(STRIPE_ID), z.looseObject({ id: z.string().regex(STRIPE_ID) })]),
  amount: Amount.optional(),
  amount_refunded: Amount.optional(),
  refunded: z.boolean().optional(),
  currency: Currency.optional(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

/** The status each PaymentIntent event type reports, and the fact it stands for. */
const PI_EVENTS: Record<string, { status: string; fact: Partial<PaymentFacts> }> = {
  "payment_intent.succeeded": { status: "succeeded", fact: { captured: true } },
  "payment_intent.payment_failed": { status: "requires_payment_method", fact: { failed: true } },
  "payment_intent.canceled": { status: "canceled", fact: { canceled: true } },
};

const claimed = (metadata: Record<string, unknown> | null | undefined) => {
  const id = metadata?.request_id;
  return typeof id === "string" ? id.slice(0, 64) : undefined;
};

export function eventFactsOf(type: string, object: unknown): EventFacts | null {
  const expected = PI_EVENTS[type];
  if (expected) {
    const parsed = PaymentIntentFields.safeParse(object);
    if (!parsed.success) return null;
    const pi = parsed.data;
    // The object's own status decides; an event without one is taken at its type.
    let facts: Partial<PaymentFacts>;
    if (pi.status === undefined || pi.status === expected.status) facts = expected.fact;
    else if (pi.status === "succeeded") facts = { captured: true };
    else if (pi.status === "canceled") facts = { canceled: true };
    else facts = {}; // processing, requires_action, …: nothing settled yet
    return { paymentIntentId: pi.id, facts, amount: pi.amount, currency: pi.currency, claimedRequestId: claimed(pi.metadata) };
  }
  if (type === "charge.refunded") {
    const parsed = ChargeFields.safeParse(object);
    if (!parsed.success) return null;
    const charge = parsed.data;
    const ref = charge.payment_intent;
    // A refund exists only for captured money; `refunded: true` means all of it.
    // (Without an amount, "all of it": the reader caps it at the payment's amount.)
    const refunded = charge.refunded === true
      ? Math.max(charge.amount_refunded ?? 0, charge.amount ?? Number.MAX_SAFE_INTEGER)
      : charge.amount_refunded ?? 0;
    return {
      paymentIntentId: typeof ref === "string" ? ref : ref.id,
      facts: { captured: true, amountRefunded: refunded },
      amount: charge.amount,
      currency: charge.currency,
      claimedRequestId: claimed(charge.metadata),
    };
  }
  return null;
}
