import type { Sql } from "../db/sql.ts";

export interface OutboxStatus {
  counts: { pending: number; delivered: number; dead: number; skipped: number };
  /** Pending events waiting behind an earlier undelivered event of their aggregate. */
  blocked: number;
  oldest_pending_age_seconds: number | null;
  last_delivery_at: string | null;
}

export async function outboxStatus(sql: Sql): Promise<OutboxStatus> {
  const [row] = await sql<
    { pending: number; delivered: number; dead: number; skipped: number; blocked: number; oldest: number | null; last: Date | null }[]
  >`
    select
      count(*) filter (where state = 'pending')::int as pending,
      count(*) filter (where state = 'delivered')::int as delivered,
      count(*) filter (where state = 'dead')::int as dead,
      count(*) filter (where state = 'skipped')::int as skipped,
      (select count(*)::int from crm_events e where e.state = 'pending' and e.seq <> (
         select head.seq from crm_events head where head.aggregate_id = e.aggregate_id
           and head.state in ('pending', 'dead') order by head.seq limit 1)) as blocked,
      extract(epoch from now() - min(created_at) filter (where state = 'pending'))::float8 as oldest,
      max(delivered_at) as last
    from crm_events`;
  return {
    counts: { pending: row.pending, delivered: row.delivered, dead: row.dead, skipped: row.skipped },
    blocked: row.blocked,
    oldest_pending_age_seconds: row.oldest === null ? null : Math.round(row.oldest),
    last_delivery_at: row.last ? row.last.toISOString() : null,
  };
}
