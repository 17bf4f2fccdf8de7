/**
 * The outbox insert, as a fragment to put in the business write's own
 * statement: `with lead as (insert … returning id), ev as (${insertEvent(…)})`.
 * Selecting from the business CTE makes the event exist only if the row does,
 * and gives it its `seq` after that row is locked — so events of one
 * aggregate are numbered in commit order.
 */
import type { Sql } from "../db/sql.ts";
import type { EventState, NewCrmEvent } from "./types.ts";

export function insertEvent(sql: Sql, event: NewCrmEvent, state: EventState, fromCte?: string) {
  const values = sql`
    ${event.id}::uuid, ${event.endpoint}, ${event.aggregateType}, ${event.aggregateId}::uuid,
    ${sql.json(event.body as never)}, ${state}`;
  return fromCte
    ? sql`insert into crm_events (id, endpoint, aggregate_type, aggregate_id, body, state)
          select ${values} from ${sql(fromCte)} limit 1 returning id`
    : sql`insert into crm_events (id, endpoint, aggregate_type, aggregate_id, body, state)
          values (${values}) returning id`;
}
