/**
 * The outbox insert, as a fragment to put in the business write's own
 * statement: `with lead as (insert … returning id), ev as (${insertEvent(…)})`.
 * Selecting from the business CTE makes the event exist only if the row does,
 * and gives it its `seq` after that row is locked — so events of one
 * aggregate are numbered in commit order.
 */
import type { Sql } from "../db/sql.ts";
import type { EventState, FirstLease, NewCrmEvent } from "./types.ts";

/** `lease`: only for an event of a brand-new aggregate, and only when it is `pending`. */
export function insertEvent(sql: Sql, event: NewCrmEvent, state: EventState, fromCte?: string, lease?: FirstLease) {
  const leased = lease && state === "pending" ? lease : undefined;
  const values = sql`
    ${event.id}::uuid, ${event.endpoint}, ${event.aggregateType}, ${event.aggregateId}::uuid,
    ${sql.json(event.body as never)}, ${state}, ${leased ? 1 : 0},
    ${leased ? sql`now() + ${leased.leaseMs} * interval '1 millisecond'` : sql`null`},
    ${leased?.claimToken ?? null}::uuid`;
  const columns = sql`(id, endpoint, aggregate_type, aggregate_id, body, state, attempts, locked_until, claim_token)`;
  return fromCte
    ? sql`insert into crm_events ${columns} select ${values} from ${sql(fromCte)} limit 1 returning id`
    : sql`insert into crm_events ${columns} values (${values}) returning id`;
}
