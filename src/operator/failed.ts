import type { Sql } from "../db/sql.ts";

export interface DeadEvent {
  id: string;
  endpoint: string;
  aggregate_type: string;
  aggregate_id: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  failed_at: string;
}

export async function deadEvents(sql: Sql, limit = 100): Promise<DeadEvent[]> {
  const rows = await sql<(Omit<DeadEvent, "created_at" | "failed_at"> & { created_at: Date; failed_at: Date })[]>`
    select id, endpoint, aggregate_type, aggregate_id, attempts, last_status, last_error,
           created_at, updated_at as failed_at
    from crm_events where state = 'dead' order by seq limit ${limit}`;
  return rows.map((r) => ({ ...r, created_at: r.created_at.toISOString(), failed_at: r.failed_at.toISOString() }));
}
