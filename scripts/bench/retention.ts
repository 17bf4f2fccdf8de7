/**
 * Retention at scale: loads N delivered deliveries (with their events and one
 * attempt log each; 90 % of them older than CRM_RETENTION_DAYS, 10 % recent)
 * into a throwaway embedded Postgres, prints table and index sizes, runs
 * retention (the same `crm_retention` steps crm-dispatch and pg_cron run),
 * then a plain VACUUM (what autovacuum does), and prints the sizes again.
 * Each further round lets 40 days pass, loads N more and prunes again: freed
 * pages are reused, so the files grow far less than the rows loaded — the
 * tables are bounded by retention.
 *
 *   npx tsx scripts/bench/retention.ts [deliveries=1000000] [rounds=2]
 *
 * The numbers this repository keeps are in docs/operations.md ("Retention").
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { runRetention } from "../../src/operator/retention.ts";
import { freePort } from "../lib/free-port.ts";
import { migrate } from "../lib/migrate.ts";
import { startPostgres } from "../local/postgres.ts";

const [rows = 1_000_000, rounds = 2] = process.argv.slice(2).map(Number);
const TABLES = ["crm_events", "crm_deliveries", "crm_attempts"];
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const dir = await mkdtemp(join(tmpdir(), "retention-bench-"));
const pg = await startPostgres({ dataDir: join(dir, "data"), port: await freePort(), persistent: false });
const sql = postgres(pg.url, { max: 1, onnotice: () => {}, connection: { statement_timeout: "0", maintenance_work_mem: "256MB" } as Record<string, string> });
try {
  await migrate(pg.url);
  for (let round = 1; round <= rounds; round++) {
    if (round > 1) {
      // Time passes: what was recent is now past retention too.
      await sql.unsafe(`update crm_events set created_at = created_at - interval '40 days'`);
      await sql.unsafe(`update crm_deliveries set updated_at = updated_at - interval '40 days'`);
      await sql.unsafe(`update crm_attempts set at = at - interval '40 days'`);
    }
    let started = Date.now();
    await load(round);
    console.log(`\nround ${round}: loaded ${rows.toLocaleString("en")} delivered deliveries (+ events, attempt logs) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await sizes("before retention");
    started = Date.now();
    const report = await runRetention(sql, { days: 30, force: true, maxMs: 3_600_000 });
    const ms = Date.now() - started;
    console.log(`retention: ${report.steps} steps of at most 5,000 rows per table in ${(ms / 1000).toFixed(1)} s ` +
      `(${Math.round(ms / report.steps)} ms per step): ${JSON.stringify(report.deleted)}`);
    await sql.unsafe(`vacuum ${TABLES.join(", ")}`);
    await sizes("after retention and VACUUM");
  }
} finally {
  await sql.end({ timeout: 5 });
  await pg.stop();
}

/** Bulk load: ordered ids, 90 % finished 40 days ago, 10 % today (kept by retention). */
async function load(round: number) {
  const offset = (round - 1) * rows;
  await sql.unsafe(`
    insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
    select gen_random_uuid(), 'request.upserted', 'request', gen_random_uuid(),
           jsonb_build_object('email', 'p' || i || '@example.fr', 'phone', '+336' || lpad((i % 100000000)::text, 8, '0'),
                              'full_name', 'Marie Curie', 'address', '12 rue Pasteur', 'city', 'Paris', 'zip_code', '75005',
                              'type_raccordement', 'definitif', 'status', 'submitted', 'payment_status', 'paid'),
           1, case when i % 10 = 0 then now() else now() - interval '40 days' end
    from generate_series(${offset + 1}, ${offset + rows}) i`);
  await sql.unsafe(`
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, created_at, updated_at, delivered_at)
    select id, 'monelec', record_id, seq, 'delivered', 1, created_at, created_at, created_at
    from crm_events e where not exists (select 1 from crm_deliveries d where d.event_id = e.id)`);
  await sql.unsafe(`
    insert into crm_attempts (event_id, destination, attempt, at, http_status, duration_ms, outcome)
    select event_id, destination, 1, updated_at, 200, 20, 'delivered'
    from crm_deliveries d where d.seq > (select coalesce(max(seq), 0) from crm_deliveries) - ${rows} order by d.updated_at, d.seq`);
  await sql.unsafe(`vacuum analyze ${TABLES.join(", ")}`);
}

async function sizes(label: string) {
  const t = await sql<{ name: string; heap: string; indexes: string }[]>`
    select c.relname as name, pg_table_size(c.oid)::text as heap, pg_indexes_size(c.oid)::text as indexes
    from pg_class c where c.relname in ${sql(TABLES)} order by c.relname`;
  const counts = Object.fromEntries(await Promise.all(TABLES.map(async (name) =>
    [name, (await sql.unsafe(`select count(*)::int as n from ${name}`))[0].n as number])));
  console.log(`\n${label}:`);
  console.log(["table".padEnd(16), "rows".padStart(10), "table".padStart(10), "indexes".padStart(10)].join("  "));
  for (const r of t) {
    console.log([r.name.padEnd(16), counts[r.name].toLocaleString("en").padStart(10), mb(Number(r.heap)).padStart(10), mb(Number(r.indexes)).padStart(10)].join("  "));
  }
  const idx = await sql<{ name: string; size: string }[]>`
    select i.relname as name, pg_relation_size(i.oid)::text as size from pg_index x
    join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
    where t.relname in ${sql(TABLES)} order by t.relname, i.relname`;
  console.log(idx.map((i) => `  ${i.name}: ${mb(Number(i.size))}`).join("\n"));
}
