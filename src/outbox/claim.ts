/**
 * Claims due events with a lease. Only the oldest undelivered event of an
 * aggregate is ever claimable: a `pending` (even in flight) or `dead` earlier
 * event blocks the later ones, so a request's events reach the CRM in order.
 * `for update skip locked` lets any number of deliverers run side by side.
 *
 * "Is this event its aggregate's head?" is asked as a correlated subquery, not
 * as NOT EXISTS: the anti-join form collapses into a scan of every pending row
 * per candidate when statistics are stale (measured: 187 ms against 0.16 ms
 * for 10,000 pending events), exactly when a backlog needs draining.
 */
import type { Sql } from "../db/sql.ts";
import type { ClaimedEvent } from "./types.ts";

export interface ClaimOptions {
  limit: number;
  leaseMs: number;
  /** Claim only this event (immediate delivery after a function's commit). */
  eventId?: string;
  /** Claim only the head of this aggregate (delivering its next event at once). */
  aggregateId?: string;
}

interface ClaimedRow {
  id: string;
  destination: string;
  endpoint: ClaimedEvent["endpoint"];
  aggregate_id: string;
  body: Record<string, unknown>;
  attempts: number;
  claim_token: string;
}

export async function claimDue(sql: Sql, opts: ClaimOptions): Promise<ClaimedEvent[]> {
  const rows = await sql<ClaimedRow[]>`
    with due as (
      select e.id from crm_events e
      where e.state = 'pending'
        and e.next_attempt_at <= now()
        and (e.locked_until is null or e.locked_until <= now())
        and (${opts.eventId ?? null}::uuid is null or e.id = ${opts.eventId ?? null}::uuid)
        and (${opts.aggregateId ?? null}::uuid is null or e.aggregate_id = ${opts.aggregateId ?? null}::uuid)
        and e.seq = (
          select head.seq from crm_events head
          where head.aggregate_id = e.aggregate_id and head.state in ('pending', 'dead')
          order by head.seq limit 1)
      order by e.next_attempt_at, e.seq
      limit ${opts.limit}
      for update of e skip locked
    )
    update crm_events c
    set attempts = c.attempts + 1,
        locked_until = now() + ${opts.leaseMs} * interval '1 millisecond',
        claim_token = gen_random_uuid(),
        updated_at = now()
    from due where c.id = due.id
    returning c.id, c.destination, c.endpoint, c.aggregate_id, c.body, c.attempts, c.claim_token`;
  return rows.map((r) => ({
    id: r.id,
    destination: r.destination,
    endpoint: r.endpoint,
    aggregateId: r.aggregate_id,
    body: r.body,
    attempts: r.attempts,
    claimToken: r.claim_token,
  }));
}
