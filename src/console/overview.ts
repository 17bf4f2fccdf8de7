/**
 * The console's overview: one card per destination (configured, or seen in
 * the database) and two time series. Every query reads an index range of the
 * last hour or day, or the first entry of an index, so it stays fast however
 * many deliveries the tables hold.
 */
import type { Sql } from "../db/sql.ts";

export const OUTCOMES = ["delivered", "retry", "dead", "throttled", "paused", "lease_lost"] as const;
export type Outcome = (typeof OUTCOMES)[number];
type Counts = Record<Outcome, number>;

export interface DestinationCard {
  name: string;
  configured: boolean;
  /** enabled | paused | circuit_open | throttled | not_configured */
  status: "enabled" | "paused" | "circuit_open" | "throttled" | "not_configured";
  paused: { since: string; reason: string | null; by: string | null } | null;
  circuit: { open_until: string; opened_at: string | null; reason: string | null } | null;
  throttled_until: string | null;
  last_hour: Counts;
  last_day: Counts;
  /** Share of failed attempts (retry or dead) among decided ones, last hour; null when none. */
  failure_rate: number | null;
  oldest_pending_age_seconds: number | null;
  last_success_at: string | null;
  backlog: { pending: number; blocked: number; dead: number };
}

export interface Overview {
  now: string;
  window: "1h" | "24h";
  destinations: DestinationCard[];
  /** Attempts per bucket and outcome (bucket: 1 min over 1 h, 30 min over 24 h). */
  throughput: { bucket_seconds: number; points: { t: string; counts: Partial<Counts> }[] };
  /** Lag = delivered_at − event created_at, percentiles per bucket (5 min over 1 h, 1 h over 24 h), seconds. */
  lag: { bucket_seconds: number; points: { t: string; p50: number; p95: number; p99: number; n: number }[] };
  backlog: { pending: number; blocked: number; dead: number };
}

const zero = (): Counts => ({ delivered: 0, retry: 0, dead: 0, throttled: 0, paused: 0, lease_lost: 0 });

/** Every destination name in crm_deliveries, by skipping through its index (a loose index scan). */
async function seenDestinations(sql: Sql): Promise<string[]> {
  const rows = await sql<{ d: string }[]>`
    with recursive t(d) as (
      (select destination from crm_deliveries order by destination limit 1)
      union all
      select (select destination from crm_deliveries where destination > t.d order by destination limit 1) from t where t.d is not null)
    select d from t where d is not null`;
  return rows.map((r) => r.d);
}

export async function overview(sql: Sql, configured: string[], window: "1h" | "24h" = "1h"): Promise<Overview> {
  const states = await sql<{ name: string; paused_at: Date | null; paused_reason: string | null; paused_by: string | null;
    circuit_open_until: Date | null; circuit_opened_at: Date | null; circuit_reason: string | null; throttled_until: Date | null }[]>`
    select name, paused_at, paused_reason, paused_by, circuit_open_until, circuit_opened_at, circuit_reason, throttled_until
    from crm_destinations`;
  const names = [...new Set([...configured, ...states.map((s) => s.name), ...(await seenDestinations(sql))])].sort(
    (a, b) => Number(configured.includes(b)) - Number(configured.includes(a)) || a.localeCompare(b),
  );

  const cards = await Promise.all(names.map(async (name): Promise<DestinationCard> => {
    const [outcomes, [edge], backlog] = await Promise.all([
      sql<{ outcome: Outcome; hour: number; day: number }[]>`
        select outcome, count(*) filter (where at > now() - interval '1 hour')::int as hour, count(*)::int as day
        from crm_attempts where destination = ${name} and at > now() - interval '1 day' group by outcome`,
      sql<{ oldest: number | null; last_success: Date | null }[]>`
        select (select extract(epoch from now() - d.created_at)::float8 from crm_deliveries d
                where d.destination = ${name} and d.state in ('pending', 'blocked') order by d.created_at limit 1) as oldest,
               (select d.delivered_at from crm_deliveries d where d.destination = ${name} and d.delivered_at is not null
                order by d.delivered_at desc limit 1) as last_success`,
      sql<{ state: "pending" | "blocked" | "dead"; n: number }[]>`
        select s.state, (select count(*)::int from crm_deliveries d where d.destination = ${name} and d.state = s.state) as n
        from unnest(array['pending', 'blocked', 'dead']) as s(state)`,
    ]);
    const st = states.find((s) => s.name === name);
    const lastHour = zero();
    const lastDay = zero();
    for (const o of outcomes) {
      lastHour[o.outcome] = o.hour;
      lastDay[o.outcome] = o.day;
    }
    const decided = lastHour.delivered + lastHour.retry + lastHour.dead;
    const now = new Date();
    const circuitOpen = st?.circuit_open_until != null;
    const throttled = st?.throttled_until && st.throttled_until > now ? st.throttled_until.toISOString() : null;
    const isConfigured = configured.includes(name);
    return {
      name,
      configured: isConfigured,
      status: st?.paused_at ? "paused" : circuitOpen ? "circuit_open" : throttled ? "throttled" : isConfigured ? "enabled" : "not_configured",
      paused: st?.paused_at ? { since: st.paused_at.toISOString(), reason: st.paused_reason, by: st.paused_by } : null,
      circuit: circuitOpen
        ? { open_until: st!.circuit_open_until!.toISOString(), opened_at: st!.circuit_opened_at?.toISOString() ?? null, reason: st!.circuit_reason }
        : null,
      throttled_until: throttled,
      last_hour: lastHour,
      last_day: lastDay,
      failure_rate: decided === 0 ? null : (lastHour.retry + lastHour.dead) / decided,
      oldest_pending_age_seconds: edge.oldest === null ? null : Math.round(edge.oldest),
      last_success_at: edge.last_success ? edge.last_success.toISOString() : null,
      backlog: {
        pending: backlog.find((b) => b.state === "pending")?.n ?? 0,
        blocked: backlog.find((b) => b.state === "blocked")?.n ?? 0,
        dead: backlog.find((b) => b.state === "dead")?.n ?? 0,
      },
    };
  }));

  const span = window === "1h" ? "1 hour" : "1 day";
  const tBucket = window === "1h" ? 60 : 1800;
  const lBucket = window === "1h" ? 300 : 3600;
  const [throughput, lag] = await Promise.all([
    sql<{ t: Date; outcome: Outcome; n: number }[]>`
      select date_bin(${`${tBucket} seconds`}::interval, a.at, timestamptz '2000-01-01') as t, a.outcome, count(*)::int as n
      from unnest(${names}::text[]) as dn(name)
      join crm_attempts a on a.destination = dn.name and a.at > now() - ${span}::interval
      group by 1, 2 order by 1`,
    sql<{ t: Date; p: number[]; n: number }[]>`
      select date_bin(${`${lBucket} seconds`}::interval, d.delivered_at, timestamptz '2000-01-01') as t,
             percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from d.delivered_at - e.created_at))::float8[] as p,
             count(*)::int as n
      from unnest(${names}::text[]) as dn(name)
      join crm_deliveries d on d.destination = dn.name and d.delivered_at > now() - ${span}::interval
      join crm_events e on e.id = d.event_id
      group by 1 order by 1`,
  ]);
  const points = new Map<string, Partial<Counts>>();
  for (const r of throughput) {
    const key = r.t.toISOString();
    const p = points.get(key) ?? {};
    p[r.outcome] = r.n;
    points.set(key, p);
  }
  const total = { pending: 0, blocked: 0, dead: 0 };
  for (const c of cards) {
    total.pending += c.backlog.pending;
    total.blocked += c.backlog.blocked;
    total.dead += c.backlog.dead;
  }
  return {
    now: new Date().toISOString(),
    window,
    destinations: cards,
    throughput: { bucket_seconds: tBucket, points: [...points].map(([t, counts]) => ({ t, counts })) },
    lag: {
      bucket_seconds: lBucket,
      points: lag.map((r) => ({ t: r.t.toISOString(), p50: round(r.p[0]), p95: round(r.p[1]), p99: round(r.p[2]), n: r.n })),
    },
    backlog: total,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
