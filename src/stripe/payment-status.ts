/**
 * Payment status from facts, not from the order events arrive in. Stripe does
 * not order its events (a refund may be delivered before the success it
 * refunds), so each payment keeps what Stripe has told about it, and every
 * fact only grows: money was captured (a success, or any refund of its
 * charge), the PaymentIntent was canceled, a payment attempt failed, the
 * largest amount refunded so far. Merging facts is order-free, and the status
 * follows from them:
 *   captured → `refunded` once everything captured was refunded, else `paid`
 *   (a partial refund leaves money captured); not captured → `canceled`, else
 *   `failed`, else `pending`.
 * A request's payment_status follows the set of its payments: `paid` while
 * any payment holds captured money, `refunded` when captured money was all
 * refunded, else the status of its latest payment attempt. A payment marked
 * as an anomaly (amount or currency not the server's price) never counts.
 */
import type { PaymentStatus } from "../validation/enums.ts";

export interface PaymentFacts {
  captured: boolean;
  amountRefunded: number;
  canceled: boolean;
  failed: boolean;
}

export const NO_FACTS: PaymentFacts = { captured: false, amountRefunded: 0, canceled: false, failed: false };

export function mergeFacts(a: PaymentFacts, b: Partial<PaymentFacts>): PaymentFacts {
  return {
    captured: a.captured || Boolean(b.captured),
    amountRefunded: Math.max(a.amountRefunded, b.amountRefunded ?? 0),
    canceled: a.canceled || Boolean(b.canceled),
    failed: a.failed || Boolean(b.failed),
  };
}

/** A payment's status; `amount` is what it captures (the PaymentIntent's amount). */
export function paymentStatusOf(facts: PaymentFacts, amount: number): PaymentStatus {
  if (facts.captured) return facts.amountRefunded >= amount ? "refunded" : "paid";
  if (facts.canceled) return "canceled";
  if (facts.failed) return "failed";
  return "pending";
}

export interface CountedPayment {
  status: PaymentStatus;
  anomaly: string | null;
}

/** The request's payment_status; `payments` newest attempt first. */
export function requestPaymentStatus(payments: CountedPayment[]): PaymentStatus {
  const counted = payments.filter((p) => !p.anomaly);
  if (counted.some((p) => p.status === "paid")) return "paid";
  if (counted.some((p) => p.status === "refunded")) return "refunded";
  return counted[0]?.status ?? "pending";
}

/** A request whose payment is settled takes no new payment. */
export function isSettled(status: PaymentStatus): boolean {
  return status === "paid" || status === "refunded";
}
