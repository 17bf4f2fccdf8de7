/**
 * `crm status`: per destination, deliveries by state (an index-only count),
 * the oldest pending age, the last delivery, and the destination's own state;
 * the events no destination got (written while the bridge was off); the
 * sweeper's last calls and runs, and retention's last pass.
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

/** A call the schedule made to crm-dispatch (Supabase: pg_cron + pg_net), with pg_net's answer when it still has it. */
export interface ScheduledCall {
  at: string;
  trigger: string;
  request_id: number | null;
  /** pg_net's HTTP status; null while waiting, after a network failure, or once pg_net dropped the answer (6 h). */
  http_status: number | null;
  outcome: string;
}

/** A run of crm-dispatch, as the function recorded it. */
export interface DispatchRun {
  started_at: string;
  duration_ms: number | null;
  claimed: number | null;
  delivered: number | null;
  errors: number | null;
  retention: Record<string, unknown> | null;
  error: string | null;
  /** Still running, or ended without recording (the isolate was killed). */
  unfinished: boolean;
}

export interface OutboxStatus {
  destinations: DestinationStatus[];
  /** Events written while no destination was enabled (`crm backfill` sends their records). */
  skipped_events: number;
  /** Events in all. */
  events: number;
  /** The schedule's last calls (empty where pg_cron does not run it, e.g. locally). */
  sweeps: ScheduledCall[];
  /** crm-dispatch's last runs. */
  runs: DispatchRun[];
  retention: { days: number; last_complete_at: string | null; last: Record<string, unknown> | null };
}

/**
 * Every query here reads an index (tests/integration/indexes.test.ts checks
 * the plans at a million deliveries): counts per (destination, state) on
 * crm_deliveries_state_idx, the destinations found by a loose index scan, the
 * oldest waiting delivery on crm_deliveries_waiting_idx, the last delivery on
 * the state index's updated_at.
 */
export async function outboxStatus(sql: Sql, configured: string[] = [], recent = 5): Promise<OutboxStatus> {
  const rows = await sql<{ name: string; paused_at: Date | null; paused_reason: string | null; paused_by: string | null;
    circuit_open_until: Date | null; circuit_reason: string | null; throttled_until: Date | null }[]>`
    select name, paused_at, paused_reason, paused_by, circuit_open_until, circuit_reason, throttled_until from crm_destinations`;
  const present = await sql<{ name: string }[]>`
    with recursive dests(name) as (
      (select destination from crm_deliveries order by destination limit 1)
      union all
      select (select d.destination from crm_deliveries d where d.destination > dests.name order by d.destination limit 1)
      from dests where dests.name is not null)
    select name from dests where name is not null`;
  const names = [...new Set([...configured, ...rows.map((r) => r.name), ...present.map((p) => p.name)])];
  const per = await sql<{ destination: string; state: string; n: number; oldest: Date | null; last: Date | null }[]>`
    select dn.name as destination, st.state,
           (select count(*)::int from crm_deliveries d where d.destination = dn.name and d.state = st.state) as n,
           case when st.state = 'pending' then
             (select w.created_at from crm_deliveries w
              where w.destination = dn.name and w.state in ('pending', 'blocked') order by w.created_at limit 1) end as oldest,
           case when st.state = 'delivered' then
             (select l.updated_at from crm_deliveries l
              where l.destination = dn.name and l.state = 'delivered' order by l.updated_at desc limit 1) end as last
    from jsonb_array_elements_text(${sql.json(names)}) as dn(name)
    cross join jsonb_array_elements_text(${sql.json([...STATES])}) as st(state)`;
  const [events] = await sql<{ all: number; skipped: number }[]>`
    select (select count(*)::int from crm_events) as all, (select count(*)::int from crm_events where fanout = 0) as skipped`;

  return {
    destinations: names.map((name) => {
      const row = rows.find((r) => r.name === name);
      const mine = per.filter((p) => p.destination === name);
      const oldest = mine.find((p) => p.state === "pending")?.oldest ?? null;
      const last = mine.find((p) => p.state === "delivered")?.last ?? null;
      return {
        name,
        counts: Object.fromEntries(STATES.map((s) => [s, mine.find((c) => c.state === s)?.n ?? 0])) as DestinationStatus["counts"],
        oldest_pending_age_seconds: oldest === null ? null : Math.max(0, Math.round((Date.now() - oldest.getTime()) / 1000)),
        last_delivery_at: last ? last.toISOString() : null,
        paused: row?.paused_at ? { since: row.paused_at.toISOString(), reason: row.paused_reason, by: row.paused_by } : null,
        circuit: row?.circuit_open_until ? { open_until: row.circuit_open_until.toISOString(), reason: row.circuit_reason } : null,
        throttled_until: row?.throttled_until && row.throttled_until > new Date() ? row.throttled_until.toISOString() : null,
      };
    }),
    skipped_events: events.skipped,
    events: events.all,
    sweeps: await scheduledCalls(sql, recent),
    runs: await dispatchRuns(sql, recent),
    retention: await retentionState(sql),
  };
}

async function scheduledCalls(sql: Sql, limit: number): Promise<ScheduledCall[]> {
  const [{ has_net }] = await sql<{ has_net: boolean }[]>`select to_regclass('net._http_response') is not null as has_net`;
  type Row = { at: Date; trigger: string; request_id: string | null; problem: string | null; status_code: number | null;
    timed_out: boolean | null; error_msg: string | null; answered: boolean; finished: boolean | null; run_error: string | null };
  // pg_net's table exists only on Supabase: the join is written only then.
  const rows = has_net
    ? await sql<Row[]>`
        select s.at, s.trigger, s.request_id::text, s.problem, r.status_code, r.timed_out, r.error_msg, r.id is not null as answered,
               run.finished_at is not null as finished, run.error as run_error
        from (select * from crm_sweeps order by id desc limit ${limit}) s
        left join net._http_response r on r.id = s.request_id
        left join lateral (select finished_at, error from crm_dispatch_runs x where x.sweep_id = s.id order by x.id limit 1) run on true
        order by s.id desc`
    : await sql<Row[]>`
        select s.at, s.trigger, s.request_id::text, s.problem, null::int as status_code, null::boolean as timed_out,
               null::text as error_msg, false as answered, run.finished_at is not null as finished, run.error as run_error
        from (select * from crm_sweeps order by id desc limit ${limit}) s
        left join lateral (select finished_at, error from crm_dispatch_runs x where x.sweep_id = s.id order by x.id limit 1) run on true
        order by s.id desc`;
  return rows.map((r) => ({
    at: r.at.toISOString(),
    trigger: r.trigger,
    request_id: r.request_id === null ? null : Number(r.request_id),
    http_status: r.status_code,
    outcome: r.problem ? `not called: ${r.problem}`
      : r.answered
        ? r.timed_out ? "timed out (pg_net)"
          : r.error_msg ? `failed: ${r.error_msg.slice(0, 120)}`
          : r.status_code !== null && r.status_code >= 200 && r.status_code < 300 ? "ok"
          : `HTTP ${r.status_code}${r.status_code === 401 ? " (the service-role key in Vault is wrong)" : ""}`
      : r.run_error ? `run failed: ${r.run_error.slice(0, 120)}`
      : r.finished ? "ok"
      : "waiting for an answer",
  }));
}

async function dispatchRuns(sql: Sql, limit: number): Promise<DispatchRun[]> {
  const rows = await sql<{ started_at: Date; finished_at: Date | null; duration_ms: number | null; claimed: number | null;
    delivered: number | null; errors: number | null; retention: Record<string, unknown> | null; error: string | null }[]>`
    select started_at, finished_at, duration_ms, claimed, delivered, errors, retention, error
    from crm_dispatch_runs order by id desc limit ${limit}`;
  return rows.map((r) => ({
    started_at: r.started_at.toISOString(), duration_ms: r.duration_ms, claimed: r.claimed, delivered: r.delivered,
    errors: r.errors, retention: r.retention, error: r.error, unfinished: r.finished_at === null,
  }));
}

async function retentionState(sql: Sql): Promise<OutboxStatus["retention"]> {
  const [m] = await sql<{ retention_days: number; retention_finished_at: Date | null; last_retention: Record<string, unknown> | null }[]>`
    select retention_days, retention_finished_at, last_retention from crm_maintenance where id`;
  return { days: m?.retention_days ?? 30, last_complete_at: m?.retention_finished_at?.toISOString() ?? null, last: m?.last_retention ?? null };
}
