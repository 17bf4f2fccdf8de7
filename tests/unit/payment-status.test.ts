import { describe, expect, it } from "vitest";
import { applyStatus, canMove, isSettled } from "../../src/stripe/payment-status.ts";

describe("payment status machine", () => {
  it("moves forward", () => {
    expect(applyStatus("pending", "paid")).toBe("paid");
    expect(applyStatus("pending", "failed")).toBe("failed");
    expect(applyStatus("failed", "paid")).toBe("paid"); // a retried card
    expect(applyStatus("paid", "refunded")).toBe("refunded");
  });

  it("never moves backwards on a late event", () => {
    expect(applyStatus("paid", "failed")).toBe("paid");
    expect(applyStatus("paid", "canceled")).toBe("paid");
    expect(applyStatus("refunded", "paid")).toBe("refunded");
    expect(canMove("paid", "pending")).toBe(false);
  });

  it("settled = paid or refunded", () => {
    expect(isSettled("paid")).toBe(true);
    expect(isSettled("refunded")).toBe(true);
    expect(isSettled("failed")).toBe(false);
  });
});
