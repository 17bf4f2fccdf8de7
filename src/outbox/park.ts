/**
 * Parking and unparking: a due delivery found behind an earlier undelivered
 * delivery of its record is moved to `blocked` (out of the claim's index);
 * when a record's head is delivered, discarded or superseded, its next
 * delivery is moved back to `pending`.
 *
 * The head check of `park` locks the head rows (FOR SHARE): a head completing
 * at the same moment either commits first (then it no longer counts, and
 * nothing is parked) or waits for the park to commit (then the completion's
 * own unpark, ./record.ts, re-reads the parked row and makes it pending). An
 * operator's change of a head unparks in its own transaction. So a row is
 * never left blocked behind nothing, whatever process dies when.
 *
 * `unpark` here is for the operator's actions; a delivered head's completion
 * unparks its record's next delivery in its own statement.
 */
import type { Sql } from "../db/sql.ts";

export async function park(sql: Sql, destination: string, eventIds: string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  // Each row is parked only behind an earlier row of its own (not "its record has a head"):
  // when a batch holds a record's next two rows and the head before them completes while
  // this runs, the first has nothing left before it and must stay pending — the head's
  // completion already looked for it (found by a test of the sweeper's pipeline).
  const rows = await sql`
    with behind as (
      select b.event_id from crm_deliveries h
      join crm_deliveries b on b.destination = h.destination and b.record_id = h.record_id and h.seq < b.seq
      where b.destination = ${destination} and b.event_id in (select value::uuid from jsonb_array_elements_text(${sql.json(eventIds)}))
        and h.state in ('pending', 'blocked', 'dead')
      for share of h
    )
    update crm_deliveries b set state = 'blocked', updated_at = now()
    where b.destination = ${destination} and b.event_id in (select event_id from behind)
      and b.state = 'pending'
      and (b.locked_until is null or b.locked_until <= now())
    returning b.event_id`;
  return rows.length;
}

/** Makes the head of each (destination, record) pending again if it was parked. Returns the records unparked. */
export async function unpark(sql: Sql, pairs: Array<{ destination: string; recordId: string }>): Promise<Array<{ destination: string; recordId: string }>> {
  if (pairs.length === 0) return [];
  const rows = await sql<{ destination: string; record_id: string }[]>`
    update crm_deliveries n set state = 'pending', next_attempt_at = now(), updated_at = now()
    from jsonb_to_recordset(${sql.json(pairs.map((p) => ({ destination: p.destination, record_id: p.recordId })))}) as x(destination text, record_id uuid)
    where n.destination = x.destination and n.record_id = x.record_id and n.state = 'blocked'
      and n.seq = (select m.seq from crm_deliveries m
                   where m.destination = x.destination and m.record_id = x.record_id
                     and m.state in ('pending', 'blocked', 'dead')
                   order by m.seq limit 1)
    returning n.destination, n.record_id`;
  return rows.map((r) => ({ destination: r.destination, recordId: r.record_id }));
}
