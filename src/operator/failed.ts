import type { Sql } from "../db/sql.ts";

export interface DeadDelivery {
  event_id: string;
  destination: string;
  type: string;
  record_id: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  failed_at: string;
}

/** Dead deliveries, oldest first, with their last status and error. */
export async function deadDeliveries(sql: Sql, opts: { destination?: string; limit?: number } = {}): Promise<DeadDelivery[]> {
  const rows = await sql<(Omit<DeadDelivery, "created_at" | "failed_at"> & { created_at: Date; failed_at: Date })[]>`
    select d.event_id, d.destination, e.type, d.record_id, d.attempts, d.last_status, d.last_error,
           d.created_at, d.updated_at as failed_at
    from crm_deliveries d join crm_events e on e.id = d.event_id
    where d.state = 'dead' and (${opts.destination ?? null}::text is null or d.destination = ${opts.destination ?? null})
    order by d.seq limit ${opts.limit ?? 100}`;
  return rows.map((r) => ({ ...r, created_at: r.created_at.toISOString(), failed_at: r.failed_at.toISOString() }));
}
