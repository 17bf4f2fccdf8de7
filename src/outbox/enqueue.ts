/**
 * The outbox write, as CTEs to put in the business write's own statement:
 *   with lead as (insert … returning id), ${eventCtes(sql, event, fanout, "lead")} select …
 * The event exists only if the business row does (it selects from that CTE),
 * and gets its `seq` after that row is locked, so a record's events are
 * numbered in commit order. One delivery per destination is written in the
 * same statement: still one round trip, whatever the number of destinations.
 */
import type { Sql } from "../db/sql.ts";
import type { Fanout, NewEvent } from "./types.ts";

export function eventCtes(sql: Sql, event: NewEvent, fanout: Fanout, fromCte?: string) {
  event.createdAt ??= new Date().toISOString(); // the immediate path sends this very value
  // JSON, not JS arrays: postgres.js infers array parameter types from types it
  // fetches on each new connection, and a query built before that is sent wrong.
  const names = fanout.destinations.map((d) => d.name);
  const targets = fanout.destinations.map((d) => ({ name: d.name, lease_ms: d.leaseMs }));
  const token = fanout.lease?.claimToken ?? null;
  const values = sql`${event.id}::uuid, ${event.type}, ${event.recordType}, ${event.recordId}::uuid,
    ${sql.json(event.data as never)}, ${names.length}, ${event.createdAt}::timestamptz`;
  const insertEvent = fromCte
    ? sql`insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
          select ${values} from ${sql(fromCte)} limit 1 returning id, seq`
    : sql`insert into crm_events (id, type, record_type, record_id, data, fanout, created_at) values (${values}) returning id, seq`;
  if (names.length === 0) return sql`crm_event as (${insertEvent})`;
  return sql`crm_event as (${insertEvent}),
    crm_fanout as (
      insert into crm_deliveries (event_id, destination, record_id, seq, locked_until, claim_token)
      select crm_event.id, d.name, ${event.recordId}::uuid, crm_event.seq,
             case when ${token}::uuid is null then null else now() + d.lease_ms * interval '1 millisecond' end,
             ${token}::uuid
      from crm_event, jsonb_to_recordset(${sql.json(targets as never)}) as d(name text, lease_ms int)
    )`;
}

/** The outbox write on its own (inside a transaction that already wrote the business rows). */
export async function enqueue(sql: Sql, event: NewEvent, fanout: Fanout): Promise<void> {
  await sql`with ${eventCtes(sql, event, fanout)} select 1`;
}
