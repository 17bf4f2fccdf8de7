/**
 * The retry policy: which delay follows which failed attempt, with jitter, and
 * how a server's `Retry-After` bends it. Pure functions, no I/O.
 */
const RETRY_AFTER_FLOOR_CAP_MS = 3_600_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "5s,5m,30m,2h" → [5000, 300000, 1800000, 7200000]. */
export function parseRetrySchedule(text: string): number[] {
  const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error("must list at least one delay, e.g. 5s,5m,30m");
  return parts.map((part) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    if (!match) throw new Error(`has "${part}": write each delay as a number and a unit (ms, s, m, h, d)`);
    return Math.round(Number(match[1]) * UNIT_MS[match[2]]);
  });
}

/** ±20 % so that events failed together do not all come back together. */
export function withJitter(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

/**
 * Delay before the next attempt after `attemptsMade` failed attempts, or
 * `null` when the schedule is exhausted. A `Retry-After` is honoured (never
 * retry earlier than the server asked), capped at the schedule's longest step
 * or one hour, whichever is longer, so a confused server cannot park events for days.
 */
export function nextRetryDelay(
  scheduleMs: number[],
  attemptsMade: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | null {
  if (attemptsMade > scheduleMs.length) return null;
  const planned = withJitter(scheduleMs[attemptsMade - 1], random);
  if (retryAfterMs === undefined) return planned;
  const cap = Math.max(...scheduleMs, RETRY_AFTER_FLOOR_CAP_MS);
  return Math.max(planned, Math.min(retryAfterMs, cap));
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
