/**
 * The immediate path, after a function commits: each delivery of the event
 * is sent at once, in the background (never in the visitor's way). A
 * first-leased delivery (a brand-new record) is sent without a claim; any
 * other is claimed first, which also checks it is its record's head. While a
 * destination keeps accepting, the record's next deliveries there follow.
 * Never throws: whatever is left is the sweeper's.
 */
import { attempt } from "./attempt.ts";
import { claim, type ClaimOptions } from "./claim.ts";
import type { Outbox } from "./outbox.ts";
import { park } from "./park.ts";
import type { ClaimedDelivery, Fanout, NewEvent } from "./types.ts";

/** How many further deliveries of one record the immediate path may send in a row. */
const CHAIN_LIMIT = 20;

/** Claims, and parks what was found behind an earlier delivery. */
export async function claimAndPark(ob: Outbox, opts: ClaimOptions) {
  const result = await claim(ob.sql, opts);
  if (result.behind.length > 0) await park(ob.sql, opts.destination, result.behind);
  return result;
}

export async function deliverNow(ob: Outbox, event: NewEvent, fanout: Fanout): Promise<void> {
  await Promise.all(fanout.destinations.map(async ({ name, leaseMs }) => {
    try {
      // A paused, throttled or open-circuit destination: its deliveries wait for the sweeper.
      if (!(await ob.states.isOpen(name))) return;
      let next: ClaimedDelivery | undefined = fanout.lease
        ? { eventId: event.id, destination: name, recordId: event.recordId, seq: 0, type: event.type,
            recordType: event.recordType, createdAt: event.createdAt ?? new Date().toISOString(), data: event.data, attempts: 0,
            claimToken: fanout.lease.claimToken, leaseUntil: fanout.lease.leasedAt + leaseMs, remote: {} }
        : (await claimAndPark(ob, { destination: name, limit: 1, leaseMs, eventId: event.id })).claimed[0];
      for (let sent = 0; next && sent < CHAIN_LIMIT; sent++) {
        const done = await attempt(ob, next);
        if (!done.hasNext) return; // the completion made the next delivery the head
        next = (await claimAndPark(ob, { destination: name, limit: 1, leaseMs, recordId: next.recordId })).claimed[0];
      }
    } catch (err) {
      ob.log.error("crm immediate delivery failed; the sweeper will retry", {
        function: ob.origin, destination: name, event_id: event.id, error: (err as Error).message,
      });
    }
  }));
}
