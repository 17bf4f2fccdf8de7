/**
 * `crm backfill [--destination d]`: every lead, call-back and request a
 * destination never had a delivery for gets one, carrying the record's
 * current snapshot (for records written while the bridge was off, or before
 * the destination was added). The sweeper then sends them at the
 * destination's pace.
 *
 * A record whose deliveries retention pruned had them (crm_pruned_records):
 * it is not sent again.
 *
 * Safe to run twice at once, and beside live traffic: runs take a
 * transaction-level advisory lock, and each snapshot is read with its record
 * row locked, so no live write can slip between reading a snapshot and
 * numbering its event (a backfilled snapshot never overtakes a newer one).
 */
import type { Pool } from "../db/sql.ts";
import { currentSnapshot } from "../db/snapshots.ts";
import type { RecordType } from "../outbox/types.ts";

const LOCK_KEY = 727_100_002;
const CHUNK = 200;
const TABLES: Record<RecordType, string> = { lead: "leads", callback: "callbacks", request: "requests" };

export interface BackfillReport {
  destinations: string[];
  queued: Record<RecordType, number>;
}

export async function backfill(sql: Pool, destinations: string[]): Promise<BackfillReport> {
  const report: BackfillReport = { destinations, queued: { lead: 0, callback: 0, request: 0 } };
  if (destinations.length === 0) return report;
  for (const recordType of ["lead", "callback", "request"] as const) {
    let after = "00000000-0000-0000-0000-000000000000";
    for (;;) {
      const done = await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
        const ids = await tx<{ id: string }[]>`
          select r.id from ${tx(TABLES[recordType])} r
          where r.id > ${after}::uuid and exists (
            select 1 from jsonb_array_elements_text(${tx.json(destinations)}) as want(name)
            where not exists (select 1 from crm_events e join crm_deliveries x on x.event_id = e.id and x.destination = want.name
                              where e.record_id = r.id)
              and not exists (select 1 from crm_pruned_records p where p.record_id = r.id and p.destination = want.name))
          order by r.id limit ${CHUNK}`;
        for (const { id } of ids) {
          const event = await currentSnapshot(tx, recordType, id, { lock: true });
          if (!event) continue;
          const [row] = await tx<{ n: number }[]>`
            with lacking as (
              select want.name from jsonb_array_elements_text(${tx.json(destinations)}) as want(name)
              where not exists (select 1 from crm_events e join crm_deliveries x on x.event_id = e.id and x.destination = want.name
                                where e.record_id = ${id}::uuid)
                and not exists (select 1 from crm_pruned_records p where p.record_id = ${id}::uuid and p.destination = want.name)),
            ev as (
              insert into crm_events (id, type, record_type, record_id, data, fanout)
              select ${event.id}, ${event.type}, ${recordType}, ${id}, ${tx.json(event.data as never)}, (select count(*) from lacking)
              where exists (select 1 from lacking)
              returning id, seq),
            dl as (
              insert into crm_deliveries (event_id, destination, record_id, seq)
              select ev.id, lacking.name, ${id}, ev.seq from ev, lacking returning 1)
            select count(*)::int as n from dl`;
          if (row.n > 0) report.queued[recordType]++;
        }
        if (ids.length > 0) after = ids[ids.length - 1].id;
        return ids.length < CHUNK;
      });
      if (done) break;
    }
  }
  return report;
}
