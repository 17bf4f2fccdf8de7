/**
 * `crm status`: per destination, deliveries by state (an index-only count),
 * the oldest pending age, the last delivery, and the destination's own state;
 * plus the events no destination got (written while the bridge was off).
 */
import type { Sql } from "../db/sql.ts";

const STATES = ["pending", "blocked", "delivered", "dead", "discarded", "superseded"] as const;

export interface DestinationStatus {
  name: string;
  counts: Record<(typeof STATES)[number], number>;
  oldest_pending_age_seconds: number | null;
  last_delivery_at: string | null;
  paused: { since: string; reason: string | null; by: string | null } | null;
  circuit: { open_until: string; reason: string | null } | null;
  throttled_until: string | null;
}

export interface OutboxStatus {
  destinations: DestinationStatus[];
  /** Events written while no destination was enabled (`crm backfill` sends their records). */
  skipped_events: number;
  /** Events in all. */
  events: number;
}

export async function outboxStatus(sql: Sql, configured: string[] = []): Promise<OutboxStatus> {
  const counts = await sql<{ destination: string; state: string; n: number }[]>`
    select destination, state, count(*)::int as n from crm_deliveries group by destination, state`;
  const oldest = await sql<{ destination: string; age: number | null }[]>`
    select dn.name as destination,
           (select extract(epoch from now() - min(d.created_at))::float8 from crm_deliveries d
            where d.destination = dn.name and d.state in ('pending', 'blocked')) as age
    from crm_destinations dn`;
  const last = await sql<{ destination: string; at: Date | null }[]>`
    select dn.name as destination,
           (select a.at from crm_attempts a where a.destination = dn.name and a.outcome = 'delivered'
            order by a.id desc limit 1) as at
    from crm_destinations dn`;
  const rows = await sql<{ name: string; paused_at: Date | null; paused_reason: string | null; paused_by: string | null;
    circuit_open_until: Date | null; circuit_reason: string | null; throttled_until: Date | null }[]>`
    select name, paused_at, paused_reason, paused_by, circuit_open_until, circuit_reason, throttled_until from crm_destinations`;
  const [events] = await sql<{ all: number; skipped: number }[]>`
    select (select count(*)::int from crm_events) as all, (select count(*)::int from crm_events where fanout = 0) as skipped`;

  const names = [...new Set([...configured, ...rows.map((r) => r.name), ...counts.map((c) => c.destination)])];
  return {
    destinations: names.map((name) => {
      const row = rows.find((r) => r.name === name);
      const age = oldest.find((o) => o.destination === name)?.age ?? null;
      const at = last.find((l) => l.destination === name)?.at ?? null;
      return {
        name,
        counts: Object.fromEntries(STATES.map((s) => [s, counts.find((c) => c.destination === name && c.state === s)?.n ?? 0])) as DestinationStatus["counts"],
        oldest_pending_age_seconds: age === null ? null : Math.round(age),
        last_delivery_at: at ? at.toISOString() : null,
        paused: row?.paused_at ? { since: row.paused_at.toISOString(), reason: row.paused_reason, by: row.paused_by } : null,
        circuit: row?.circuit_open_until ? { open_until: row.circuit_open_until.toISOString(), reason: row.circuit_reason } : null,
        throttled_until: row?.throttled_until && row.throttled_until > new Date() ? row.throttled_until.toISOString() : null,
      };
    }),
    skipped_events: events.skipped,
    events: events.all,
  };
}
