/**
 * The product's fact merge and status rules, checked against cases written
 * from Stripe's documented semantics (the PaymentIntent lifecycle; a Charge's
 * amount_refunded grows and equals its amount once fully refunded). The
 * every-order check over the real stack is tests/e2e/payment-orders.test.ts.
 */
import { describe, expect, it } from "vitest";
import { eventFactsOf } from "../../src/stripe/event-facts.ts";
import { isSettled, mergeFacts, NO_FACTS, paymentStatusOf, requestPaymentStatus } from "../../src/stripe/payment-status.ts";

const pi = (status: string, extra = {}) => ({ id: "pi_1", object: "payment_intent", amount: 1000, currency: "eur", status, ...extra });
const charge = (refunded: number) => ({ id: "ch_1", object: "charge", amount: 1000, amount_refunded: refunded, refunded: refunded === 1000, currency: "eur", payment_intent: "pi_1" });
const statusAfter = (...events: Array<[string, object]>) =>
  paymentStatusOf(events.reduce((f, [type, object]) => mergeFacts(f, eventFactsOf(type, object)!.facts), NO_FACTS), 1000);

describe("a payment's status from its facts", () => {
  it("follows the PaymentIntent lifecycle", () => {
    expect(statusAfter(["payment_intent.succeeded", pi("succeeded")])).toBe("paid");
    expect(statusAfter(["payment_intent.payment_failed", pi("requires_payment_method")])).toBe("failed");
    expect(statusAfter(["payment_intent.payment_failed", pi("requires_payment_method")], ["payment_intent.succeeded", pi("succeeded")])).toBe("paid");
    expect(statusAfter(["payment_intent.canceled", pi("canceled")])).toBe("canceled");
  });

  it("a late failure or cancellation never undoes a capture", () => {
    expect(statusAfter(["payment_intent.succeeded", pi("succeeded")], ["payment_intent.payment_failed", pi("requires_payment_method")])).toBe("paid");
    expect(statusAfter(["payment_intent.succeeded", pi("succeeded")], ["payment_intent.canceled", pi("canceled")])).toBe("paid");
  });

  it("a refund seen before its success still ends refunded; a partial refund leaves it paid", () => {
    expect(statusAfter(["charge.refunded", charge(1000)], ["payment_intent.succeeded", pi("succeeded")])).toBe("refunded");
    expect(statusAfter(["charge.refunded", charge(400)])).toBe("paid");
    expect(statusAfter(["charge.refunded", charge(1000)], ["charge.refunded", charge(400)])).toBe("refunded");
  });

  it("reads the object's own status, not only the event's type", () => {
    expect(eventFactsOf("payment_intent.succeeded", pi("processing"))!.facts).toEqual({});
    expect(eventFactsOf("payment_intent.payment_failed", pi("succeeded"))!.facts).toEqual({ captured: true });
    expect(eventFactsOf("customer.created", { id: "cus_1" })).toBeNull();
    expect(eventFactsOf("charge.refunded", { id: "ch_1", payment_intent: null })).toBeNull();
  });
});

describe("a request's status from its payments (newest first)", () => {
  const p = (status: "pending" | "paid" | "failed" | "canceled" | "refunded", anomaly: string | null = null) => ({ status, anomaly });
  it("paid while any payment holds money, refunded when all captured money went back, else the latest attempt", () => {
    expect(requestPaymentStatus([p("refunded"), p("paid")])).toBe("paid");
    expect(requestPaymentStatus([p("failed"), p("refunded")])).toBe("refunded");
    expect(requestPaymentStatus([p("pending"), p("canceled")])).toBe("pending");
    expect(requestPaymentStatus([])).toBe("pending");
  });

  it("a payment with an anomaly does not count", () => {
    expect(requestPaymentStatus([p("paid", "amount_mismatch")])).toBe("pending");
    expect(requestPaymentStatus([p("paid", "amount_mismatch"), p("failed")])).toBe("failed");
  });

  it("settled = paid or refunded", () => {
    expect(isSettled("paid")).toBe(true);
    expect(isSettled("refunded")).toBe(true);
    expect(isSettled("failed")).toBe(false);
  });
});
