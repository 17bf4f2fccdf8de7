/**
 * `crm replay --destination d --since T` / the console's "replay": every
 * record that had an event since T is sent again to that one destination.
 *
 * What goes is the record's CURRENT snapshot, as a new event (new id), not the
 * old events themselves: a destination that honours Idempotency-Key /
 * webhook-id would ignore a re-sent id, and the current snapshot is what it
 * should end up holding (intermediate states of a record carry nothing the
 * last one lacks). One delivery per record, in the record's order.
 *
 * Runs under the backfill's advisory lock, with each record locked while its
 * snapshot is read (a live write cannot slip between snapshot and numbering).
 */
import { enqueue } from "../outbox/enqueue.ts";
import type { Pool } from "../db/sql.ts";
import { currentSnapshot } from "../db/snapshots.ts";
import type { RecordType } from "../outbox/types.ts";

const LOCK_KEY = 727_100_002;
const CHUNK = 200;

export interface ReplayReport {
  destination: string;
  since: string;
  queued: Record<RecordType, number>;
  /** Records that had events since T but no longer exist (erased). */
  gone: number;
}

/** How many records a replay would send (its dry run). */
export async function countReplay(sql: Pool, since: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(distinct record_id)::int as n from crm_events where created_at >= ${since}`;
  return row.n;
}

export async function replaySince(sql: Pool, destination: string, since: Date): Promise<ReplayReport> {
  const report: ReplayReport = { destination, since: since.toISOString(), queued: { lead: 0, callback: 0, request: 0 }, gone: 0 };
  const records = await sql<{ record_type: RecordType; record_id: string }[]>`
    select record_type, record_id from crm_events where created_at >= ${since}
    group by record_type, record_id order by min(seq)`;
  for (let i = 0; i < records.length; i += CHUNK) {
    const chunk = records.slice(i, i + CHUNK);
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
      for (const r of chunk) {
        const event = await currentSnapshot(tx, r.record_type, r.record_id, { lock: true });
        if (!event) {
          report.gone++;
          continue;
        }
        await enqueue(tx, event, { destinations: [{ name: destination, leaseMs: 0 }] });
        report.queued[r.record_type]++;
      }
    });
  }
  return report;
}
