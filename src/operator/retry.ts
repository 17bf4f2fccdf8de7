/**
 * Operator retries. A dead delivery is retried with the record's CURRENT
 * snapshot (a fix to the data or the mapping takes effect): a new event of
 * the record, delivered to that destination only, takes the dead one's place
 * (which becomes `superseded`). `pendingNow` sends waiting deliveries at once
 * (after an outage), instead of at their scheduled time.
 */
import type { Pool } from "../db/sql.ts";
import { currentSnapshot } from "../db/snapshots.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { unpark } from "../outbox/park.ts";
import type { RecordType } from "../outbox/types.ts";
import { type DeliveryFilter, filterSql } from "./filter.ts";

export interface RetryReport {
  /** Dead deliveries queued again with a fresh snapshot. */
  requeued: number;
  /** Dead deliveries whose record no longer exists (discarded instead). */
  gone: number;
}

export async function retryDead(sql: Pool, filter: DeliveryFilter): Promise<RetryReport> {
  const dead = await sql<{ event_id: string; destination: string; record_type: RecordType; record_id: string }[]>`
    select d.event_id, d.destination, e.record_type, d.record_id
    from crm_deliveries d join crm_events e on e.id = d.event_id
    where d.state = 'dead' and ${filterSql(sql, { ...filter, state: undefined })}
    order by d.seq`;
  const report: RetryReport = { requeued: 0, gone: 0 };
  for (const row of dead) {
    await sql.begin(async (tx) => {
      const [still] = await tx`select 1 from crm_deliveries where event_id = ${row.event_id}
                               and destination = ${row.destination} and state = 'dead' for update`;
      if (!still) return;
      const event = await currentSnapshot(tx, row.record_type, row.record_id, { lock: true });
      if (!event) {
        await tx`update crm_deliveries set state = 'discarded', updated_at = now(), last_error = 'record no longer exists'
                 where event_id = ${row.event_id} and destination = ${row.destination}`;
        report.gone++;
        return;
      }
      await tx`update crm_deliveries set state = 'superseded', updated_at = now()
               where event_id = ${row.event_id} and destination = ${row.destination}`;
      await enqueue(tx, event, { destinations: [{ name: row.destination, leaseMs: 0 }] });
      // Later deliveries parked behind the dead one: its replacement is newer, so they go (or are
      // superseded) now. In the same transaction: nothing is left parked behind nothing.
      await unpark(tx, [{ destination: row.destination, recordId: row.record_id }]);
      report.requeued++;
    });
  }
  return report;
}

/**
 * Pending deliveries matching the filter become due now, and their
 * destinations' circuits are closed (the operator says the outage is over;
 * a destination paused on purpose stays paused). Returns how many wait.
 */
export async function sendPendingNow(sql: Pool, filter: DeliveryFilter): Promise<number> {
  const rows = await sql<{ destination: string }[]>`
    update crm_deliveries d set next_attempt_at = least(d.next_attempt_at, now()), updated_at = now()
    from crm_events e
    where e.id = d.event_id and d.state = 'pending' and (d.locked_until is null or d.locked_until <= now())
      and ${filterSql(sql, { ...filter, state: undefined })}
    returning d.destination`;
  const destinations = [...new Set(rows.map((r) => r.destination))];
  if (destinations.length > 0) {
    await sql`update crm_destinations set circuit_open_until = null, circuit_opened_at = null, circuit_reason = null,
                throttled_until = null, updated_at = now()
              where name in (select jsonb_array_elements_text(${sql.json(destinations)}))`;
  }
  return rows.length;
}

/** Gives up on dead deliveries on purpose: their records are unblocked. */
export async function discardDead(sql: Pool, filter: DeliveryFilter): Promise<number> {
  return await sql.begin(async (tx) => {
    const rows = await tx<{ destination: string; record_id: string }[]>`
      update crm_deliveries d set state = 'discarded', updated_at = now()
      from crm_events e
      where e.id = d.event_id and d.state = 'dead' and ${filterSql(tx, { ...filter, state: undefined })}
      returning d.destination, d.record_id`;
    await unpark(tx, rows.map((r) => ({ destination: r.destination, recordId: r.record_id })));
    return rows.length;
  });
}
