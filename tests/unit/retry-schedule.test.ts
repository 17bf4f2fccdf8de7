import { describe, expect, it } from "vitest";
import { nextRetryDelay, parseRetryAfter, parseRetrySchedule, withJitter } from "../../src/outbox/retry-schedule.ts";

describe("retry schedule", () => {
  it("parses the default Svix-like schedule", () => {
    expect(parseRetrySchedule("5s,5m,30m,2h,5h,10h,10h")).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });

  it("accepts milliseconds and spaces, refuses junk with a clear message", () => {
    expect(parseRetrySchedule(" 200ms, 1.5s ")).toEqual([200, 1_500]);
    expect(() => parseRetrySchedule("5x")).toThrow(/"5x".*unit/);
    expect(() => parseRetrySchedule("")).toThrow(/at least one/);
  });

  it("jitters within ±20 %", () => {
    expect(withJitter(1_000, () => 0)).toBe(800);
    expect(withJitter(1_000, () => 1)).toBe(1_200);
  });

  it("gives the next delay after each failed attempt, then null when exhausted", () => {
    const schedule = [1_000, 2_000];
    const mid = () => 0.5;
    expect(nextRetryDelay(schedule, 1, undefined, mid)).toBe(1_000);
    expect(nextRetryDelay(schedule, 2, undefined, mid)).toBe(2_000);
    expect(nextRetryDelay(schedule, 3, undefined, mid)).toBeNull();
  });

  it("honours Retry-After when it asks for longer, capped at max(longest step, 1 h)", () => {
    const schedule = [1_000, 60_000];
    expect(nextRetryDelay(schedule, 1, 30_000, () => 0.5)).toBe(30_000);
    expect(nextRetryDelay(schedule, 1, 500, () => 0.5)).toBe(1_000);
    expect(nextRetryDelay(schedule, 1, 10 * 3_600_000, () => 0.5)).toBe(3_600_000);
    expect(nextRetryDelay([1_000, 36_000_000], 1, 20 * 3_600_000, () => 0.5)).toBe(36_000_000);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-23T10:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
