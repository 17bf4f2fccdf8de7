/**
 * An independent model of what a request's payment status must be after a
 * set of Stripe events, written from Stripe's documentation, not from the
 * product's code:
 * - PaymentIntent lifecycle ("How PaymentIntents work"): a failed attempt
 *   returns it to `requires_payment_method` and it may still succeed later;
 *   `canceled` and `succeeded` are terminal, and a succeeded one cannot be
 *   canceled, so whichever of those events arrives late, captured money stays
 *   captured.
 * - Refunds ("Refund and cancel payments", the Charge object): only captured
 *   money can be refunded, so a `charge.refunded` proves a capture even if its
 *   `payment_intent.succeeded` has not arrived; `amount_refunded` only grows,
 *   and `refunded` is true once it equals the amount; a partial refund leaves
 *   the rest captured.
 * - The contract (CONTRACT §2): the request is `paid` while any payment holds
 *   captured money, `refunded` when captured money was all refunded, else
 *   follows its latest payment attempt; a second captured payment on one
 *   request is an anomaly for the operator.
 * Only the SET of events matters: Stripe does not guarantee their order.
 */
export type EventKind = "succeeded" | "failed" | "canceled" | "refund_full" | "refund_partial";
export const EVENT_KINDS: EventKind[] = ["succeeded", "failed", "canceled", "refund_full", "refund_partial"];
export type Status = "pending" | "paid" | "failed" | "canceled" | "refunded";

export function paymentOutcome(seen: ReadonlySet<EventKind>): Status {
  const captured = seen.has("succeeded") || seen.has("refund_full") || seen.has("refund_partial");
  if (captured) return seen.has("refund_full") ? "refunded" : "paid";
  if (seen.has("canceled")) return "canceled";
  if (seen.has("failed")) return "failed";
  return "pending";
}

/** `payments` oldest attempt first. */
export function requestOutcome(payments: ReadonlyArray<ReadonlySet<EventKind>>): { status: Status; duplicateCapture: boolean } {
  const outcomes = payments.map(paymentOutcome);
  const holdingMoney = outcomes.filter((o) => o === "paid").length;
  const everCaptured = outcomes.filter((o) => o === "paid" || o === "refunded").length;
  const status: Status = holdingMoney > 0
    ? "paid"
    : outcomes.includes("refunded")
    ? "refunded"
    : outcomes[outcomes.length - 1] ?? "pending";
  return { status, duplicateCapture: everCaptured > 1 };
}

/** Every ordering of every subset of `items` with 1..maxLength elements. */
export function* orderings<T>(items: readonly T[], maxLength: number, prefix: T[] = []): Generator<T[]> {
  if (prefix.length > 0) yield prefix;
  if (prefix.length === maxLength) return;
  for (const item of items) if (!prefix.includes(item)) yield* orderings(items, maxLength, [...prefix, item]);
}
