/**
 * Payment status as a state machine. Stripe does not order its events, so a
 * late event must never move a payment backwards: `failed` after `paid` is
 * ignored, `paid` after `failed` (a retried card) is taken.
 */
import type { PaymentStatus } from "../validation/enums.ts";

const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  pending: ["paid", "failed", "canceled"],
  failed: ["paid", "canceled", "pending"],
  canceled: ["paid", "pending"],
  paid: ["refunded"],
  refunded: [],
};

export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}

/** The status after applying `to`, or the unchanged `from` when the move is not allowed. */
export function applyStatus(from: PaymentStatus, to: PaymentStatus): PaymentStatus {
  return canMove(from, to) ? to : from;
}

/** A request whose payment is settled takes no new payment. */
export function isSettled(status: PaymentStatus): boolean {
  return status === "paid" || status === "refunded";
}
