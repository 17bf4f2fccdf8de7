/**
 * HubSpot resets an account's daily API limit at midnight in the account's
 * time zone (API usage guidelines): the epoch ms of the next midnight in
 * `timeZone` after `now`, daylight-saving changes included (Intl only).
 */
function wallClock(t: number, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { y: get("year"), m: get("month"), d: get("day"), h: get("hour"), mi: get("minute"), s: get("second") };
}

/** The zone's offset from UTC at instant t, in ms (wall clock minus UTC). */
function offsetAt(t: number, timeZone: string): number {
  const w = wallClock(t, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(t / 1000) * 1000;
}

export function nextMidnight(timeZone: string, now: number = Date.now()): number {
  const w = wallClock(now, timeZone);
  const wallMidnight = Date.UTC(w.y, w.m - 1, w.d + 1); // tomorrow 00:00 on the zone's clock, read as UTC
  const first = wallMidnight - offsetAt(wallMidnight, timeZone);
  return wallMidnight - offsetAt(first, timeZone); // the offset in force at that instant (DST day)
}

/** Throws a RangeError for a zone Intl does not know. */
export function assertTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat("en-US", { timeZone });
}
