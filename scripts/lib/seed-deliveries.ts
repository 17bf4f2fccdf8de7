/**
 * Lead events with one delivery each, written in one statement (the benchmark's
 * backlog, the plan tests' tables): as an outage or normal traffic leaves them.
 */
import type postgres from "postgres";

export interface SeedLead {
  id: string;
  recordId: string;
  /** The event's CONTRACT §3 body. */
  data: Record<string, unknown>;
}

export interface SeedDelivery {
  destination: string;
  state: "pending" | "delivered";
  attempts: number;
  lastError?: string;
}

export async function seedLeadDeliveries(sql: postgres.Sql, leads: SeedLead[], d: SeedDelivery): Promise<void> {
  const rows = leads.map((l) => ({ id: l.id, record_id: l.recordId, data: l.data }));
  await sql`
    with ev as (
      insert into crm_events (id, type, record_type, record_id, data, fanout)
      select id, 'lead.upserted', 'lead', record_id, data, 1
      from jsonb_to_recordset(${sql.json(rows as never)}) as x(id uuid, record_id uuid, data jsonb)
      returning id, record_id, seq)
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, last_error, delivered_at)
    select id, ${d.destination}, record_id, seq, ${d.state}, ${d.attempts}, ${d.lastError ?? null},
           case when ${d.state} = 'delivered' then now() end
    from ev`;
}
