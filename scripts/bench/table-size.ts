/**
 * Table and index sizes after N delivered deliveries, and after retention
 * (issue 12). In a database of its own on the bench's Postgres (migrated
 * like the product's, dropped afterwards): N events, each with one delivered
 * monelec delivery and its attempt-log row, created over 2 × the retention
 * window (the real lead body, so rows have their real width). Then retention
 * runs — `crm_retention(days, 5000, true)` when the schema has it, otherwise
 * a plain batched delete of what is older than the window, in the same
 * bounded steps (5,000 rows per statement, by ctid) — then VACUUM. Sizes are
 * printed after the load, after retention, and after another window's worth
 * of rows is written on top: space freed by retention is reused, so the
 * tables stay bounded by the window.
 */
import postgres from "postgres";
import { randomUUID } from "node:crypto";
import { leadBody } from "../../src/crm/monelec-bodies.ts";
import { migrate } from "../lib/migrate.ts";
import { formStartBody } from "./bodies.ts";
import type { Bench } from "./environment.ts";

const TABLES = ["crm_events", "crm_deliveries", "crm_attempts"] as const;
const BATCH = 5_000;

export interface TableSizes {
  /** Per table: heap (+ TOAST) and indexes, in MB; live rows. */
  tables: Record<string, { rows: number; tableMb: number; indexesMb: number }>;
  totalMb: number;
}

export interface TableSizeResult {
  deliveries: number;
  retentionDays: number;
  retention: "crm_retention()" | "plain batched delete (crm_retention() is not in this schema)";
  loadS: number;
  retentionS: number;
  afterLoad: TableSizes;
  afterRetention: TableSizes;
  afterNextWindow: TableSizes;
  deleted: number;
}

async function sizes(db: postgres.Sql): Promise<TableSizes> {
  const rows = await db<{ name: string; rows: number; table_b: string; index_b: string }[]>`
    select c.relname as name, 0 as rows, pg_table_size(c.oid)::text as table_b, pg_indexes_size(c.oid)::text as index_b
    from pg_class c where c.relname in ${db(TABLES as unknown as string[])} and c.relkind = 'r'`;
  // Exact counts (n_live_tup is an estimate that VACUUM leaves far off after a mass delete).
  for (const r of rows) r.rows = (await db.unsafe<{ n: number }[]>(`select count(*)::int as n from ${r.name}`))[0].n;
  const mb = (b: string) => Math.round(Number(b) / 1048576 * 10) / 10;
  const tables = Object.fromEntries(rows.map((r) => [r.name, { rows: r.rows, tableMb: mb(r.table_b), indexesMb: mb(r.index_b) }]));
  const totalMb = Math.round(rows.reduce((n, r) => n + Number(r.table_b) + Number(r.index_b), 0) / 1048576 * 10) / 10;
  return { tables, totalMb };
}

/** `n` delivered deliveries created evenly between `fromDaysAgo` and `toDaysAgo`. */
async function load(db: postgres.Sql, n: number, fromDaysAgo: number, toDaysAgo: number) {
  const leadId = randomUUID();
  const body = leadBody({ id: leadId, ...formStartBody(), phone: "+33612345678" });
  const step = 100_000;
  for (let start = 0; start < n; start += step) {
    const count = Math.min(step, n - start);
    await db`
      with gen as (
        select gen_random_uuid() as id, gen_random_uuid() as rid,
               now() - make_interval(secs => (${fromDaysAgo}::float8 - (${fromDaysAgo}::float8 - ${toDaysAgo}::float8)
                                              * ((${start}::int + i)::float8 / ${n}::float8)) * 86400) as at
        from generate_series(1, ${count}::int) as i),
      ev as (
        insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
        select id, 'lead.upserted', 'lead', rid, jsonb_set(${db.json(body as never)}::jsonb, '{lovable_lead_id}', to_jsonb(rid::text)), 1, at
        from gen returning id, record_id, seq, created_at),
      dl as (
        insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, created_at, updated_at, delivered_at, last_status)
        select id, 'monelec', record_id, seq, 'delivered', 1, created_at, created_at + interval '40 ms', created_at + interval '40 ms', 201 from ev)
      insert into crm_attempts (event_id, destination, attempt, at, http_status, duration_ms, outcome)
      select id, 'monelec', 1, created_at + interval '40 ms', 201, 12, 'delivered' from ev`;
  }
  await db`analyze crm_events`;
  await db`analyze crm_deliveries`;
  await db`analyze crm_attempts`;
}

/** Retention without crm_retention(): finished deliveries, then events nothing needs, then attempt logs, 5,000 at a time. */
async function plainRetention(db: postgres.Sql, days: number): Promise<number> {
  let deleted = 0;
  const cutoff = db`now() - make_interval(days => ${days}::int)`;
  const loop = async (run: () => Promise<number>) => {
    for (;;) {
      const k = await run();
      deleted += k;
      if (k < BATCH) return;
    }
  };
  await loop(async () => (await db`
    delete from crm_deliveries d
    where d.ctid = any (array(select x.ctid from crm_deliveries x
                              where x.state in ('delivered', 'discarded', 'superseded') and x.updated_at < ${cutoff} limit ${BATCH}))`).count);
  await loop(async () => (await db`
    delete from crm_events e
    where e.ctid = any (array(select x.ctid from crm_events x
                              where x.created_at < ${cutoff} and x.fanout > 0
                                and not exists (select 1 from crm_deliveries d where d.event_id = x.id) limit ${BATCH}))`).count);
  await loop(async () => (await db`
    delete from crm_attempts a
    where a.ctid = any (array(select x.ctid from (select ctid, at from crm_attempts order by id limit ${BATCH}) x
                              where x.at < ${cutoff}))`).count);
  return deleted;
}

async function retentionFunction(db: postgres.Sql, days: number): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < 100_000; i++) {
    const [{ r }] = await db<{ r: Record<string, number | boolean> }[]>`select crm_retention(${days}::int, ${BATCH}::int, true) as r`;
    for (const k of ["deliveries", "events", "attempts"]) deleted += Number(r[k] ?? 0);
    if (!r.more) break;
  }
  return deleted;
}

export async function tableSizes(bench: Bench, n: number, retentionDays = 30): Promise<TableSizeResult> {
  const name = `bench_size_${process.pid}`;
  await bench.db.unsafe(`create database ${name}`);
  const url = bench.off.databaseUrl.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
  try {
    await migrate(url);
    const db = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    try {
      const [{ has }] = await db<{ has: boolean }[]>`select to_regprocedure('crm_retention(integer,integer,boolean)') is not null as has`;
      let t = performance.now();
      await load(db, n, 2 * retentionDays, 0);
      const loadS = (performance.now() - t) / 1000;
      await db`vacuum crm_events, crm_deliveries, crm_attempts`;
      const afterLoad = await sizes(db);
      t = performance.now();
      const deleted = has ? await retentionFunction(db, retentionDays) : await plainRetention(db, retentionDays);
      await db`vacuum crm_events, crm_deliveries, crm_attempts`;
      const retentionS = (performance.now() - t) / 1000;
      const afterRetention = await sizes(db);
      // The next window: as many rows again as retention removed, written on top.
      await load(db, Math.round(n / 2), 0, 0);
      await db`vacuum crm_events, crm_deliveries, crm_attempts`;
      const afterNextWindow = await sizes(db);
      return {
        deliveries: n,
        retentionDays,
        retention: has ? "crm_retention()" : "plain batched delete (crm_retention() is not in this schema)",
        loadS: Math.round(loadS),
        retentionS: Math.round(retentionS),
        afterLoad,
        afterRetention,
        afterNextWindow,
        deleted,
      };
    } finally {
      await db.end({ timeout: 5 });
    }
  } finally {
    await bench.db.unsafe(`drop database if exists ${name} with (force)`);
  }
}
