import type { Sql } from "../db/sql.ts";
import type { ClaimedEvent } from "./types.ts";

export interface Completion {
  /** False when the lease was lost to another deliverer. */
  completed: boolean;
  /** A later pending event of the same aggregate is now free to go. */
  nextInAggregate: boolean;
}

/** Marks a claimed event delivered, and tells whether its aggregate has more to send. */
export async function completeEvent(sql: Sql, event: ClaimedEvent, httpStatus: number): Promise<Completion> {
  const rows = await sql<{ next_in_aggregate: boolean }[]>`
    update crm_events c
    set state = 'delivered', delivered_at = now(), locked_until = null,
        last_status = ${httpStatus}, last_error = null, updated_at = now()
    where c.id = ${event.id} and c.claim_token = ${event.claimToken}
    returning exists (
      -- 'pending' or 'dead' matches crm_events_aggregate_idx exactly, so this is
      -- an index probe even on stale statistics; a later dead event only costs
      -- a claim that finds nothing.
      select 1 from crm_events n
      where n.aggregate_id = c.aggregate_id and n.seq > c.seq and n.state in ('pending', 'dead')
    ) as next_in_aggregate`;
  return { completed: rows.length === 1, nextInAggregate: rows[0]?.next_in_aggregate ?? false };
}
