/**
 * Queues what the CRM never got: for an aggregate whose newest event was
 * `skipped` (bridge off at the time), that newest event — a full snapshot, so
 * the older skipped ones add nothing; and for leads, callbacks and requests
 * with no event at all (written before the bridge existed), a new snapshot.
 */
import { callbackBody, leadBody, type LeadFacts, type CallbackFacts } from "../crm/monelec-bodies.ts";
import { requestBody } from "../crm/monelec-bodies.ts";
import { loadRequestSnapshot } from "../db/request-snapshot.ts";
import type { Pool } from "../db/sql.ts";
import { insertEvent } from "../outbox/enqueue.ts";
import type { NewCrmEvent } from "../outbox/types.ts";

export interface BackfillReport {
  requeued_skipped: number;
  created: { leads: number; callbacks: number; requests: number };
}

export async function backfill(sql: Pool): Promise<BackfillReport> {
  const requeued = await sql`
    update crm_events e
    set state = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
    where e.state = 'skipped'
      and not exists (select 1 from crm_events later where later.aggregate_id = e.aggregate_id and later.seq > e.seq)
    returning id`;

  const leads = await sql<LeadFacts[]>`
    select l.* from leads l where not exists (select 1 from crm_events e where e.aggregate_id = l.id)`;
  const callbacks = await sql<CallbackFacts[]>`
    select c.* from callbacks c where not exists (select 1 from crm_events e where e.aggregate_id = c.id)`;
  const requestIds = await sql<{ id: string }[]>`
    select r.id from requests r where not exists (select 1 from crm_events e where e.aggregate_id = r.id)`;

  const events: NewCrmEvent[] = [
    ...leads.map((l) => newEvent("/leads", "lead", l.id, leadBody(l))),
    ...callbacks.map((c) => newEvent("/leads", "callback", c.id, callbackBody(c))),
  ];
  for (const { id } of requestIds) {
    const snapshot = await loadRequestSnapshot(sql, id);
    if (snapshot) events.push(newEvent("/requests", "request", id, requestBody(snapshot)));
  }
  for (const event of events) await insertEvent(sql, event, "pending");

  return {
    requeued_skipped: requeued.length,
    created: { leads: leads.length, callbacks: callbacks.length, requests: requestIds.length },
  };
}

function newEvent(endpoint: NewCrmEvent["endpoint"], aggregateType: NewCrmEvent["aggregateType"], aggregateId: string, body: Record<string, unknown>): NewCrmEvent {
  return { id: crypto.randomUUID(), endpoint, aggregateType, aggregateId, body };
}
