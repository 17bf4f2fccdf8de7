/**
 * `npm run bench:console` — the operator console at a million deliveries.
 * Starts a throwaway embedded Postgres (or uses BENCH_DATABASE_URL: a database
 * it may fill), migrates it, fills it with SQL generate_series — 500 000
 * events over the last 7 days, each delivered to two destinations (1 000 000
 * deliveries: 95 % delivered, 2 % dead, 1 % pending, 1 % blocked, 1 %
 * superseded), one attempt per decided delivery, 100 000 leads — then serves
 * the console and times its answers over HTTP (median and max of 15 calls,
 * after 2 warm-ups). Target: the overview and a filtered list under 300 ms.
 *   BENCH_DELIVERIES=1000000  how many deliveries (events = half)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { loadDestinations } from "../../src/config.ts";
import { startConsoleServer } from "../console/serve.ts";
import { freePort } from "../lib/free-port.ts";
import { migrate } from "../lib/migrate.ts";
import { startPostgres } from "../local/postgres.ts";

const TARGET_MS = 300;
const RUNS = 15;

async function main() {
  const deliveries = Number(process.env.BENCH_DELIVERIES ?? 1_000_000);
  const events = Math.floor(deliveries / 2);
  const leads = Math.max(10, Math.floor(events / 5));
  let stop = async () => {};
  let url = process.env.BENCH_DATABASE_URL;
  if (!url) {
    const dataDir = await mkdtemp(join(tmpdir(), "raccordement-bench-console-"));
    const pg = await startPostgres({ dataDir: join(dataDir, "pg"), port: await freePort(), persistent: false,
      settings: { shared_buffers: "256MB", max_wal_size: "4GB", synchronous_commit: "off" } });
    url = pg.url;
    stop = async () => {
      await pg.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  try {
    await migrate(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    let t = Date.now();
    console.log(`filling: ${leads} leads, ${events} events, ${deliveries} deliveries, their attempts…`);
    await sql.unsafe(`
      insert into crm_destinations (name) values ('monelec'), ('webhook') on conflict do nothing;
      insert into leads (id, email, phone, firstname, lastname, postal_code, created_at)
      select md5('lead' || i)::uuid, 'person' || i || '@example.fr', '+336' || lpad(i::text, 8, '0'), 'Prenom' || i, 'Nom' || i, '75005',
             now() - interval '8 days'
      from generate_series(1, ${leads}) i;
      insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
      select md5('event' || i)::uuid, 'lead.upserted', 'lead', md5('lead' || (1 + i % ${leads}))::uuid,
             jsonb_build_object('email', 'person' || (1 + i % ${leads}) || '@example.fr', 'phone', '+336' || lpad((1 + i % ${leads})::text, 8, '0'),
                                'firstName', 'Prenom', 'lastName', 'Nom', 'serviceType', 'non-specifie', 'postalCode', '75005',
                                'source', 'lovable-website', 'lovable_lead_id', md5('lead' || (1 + i % ${leads}))::uuid),
             2, now() - interval '7 days' * (1 - i::float8 / ${events})
      from generate_series(1, ${events}) i order by i;
      insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, last_status, last_error,
                                  created_at, updated_at, delivered_at, next_attempt_at)
      select e.id, dn.name, e.record_id, e.seq, s.state, case when s.state in ('pending', 'blocked') then 0 else 1 end,
             case s.state when 'delivered' then 200 when 'dead' then 422 when 'superseded' then 503 end,
             case s.state when 'dead' then 'HTTP 422: validation_failed' end,
             e.created_at, e.created_at + interval '2 seconds',
             case when s.state = 'delivered' then e.created_at + (0.2 + (hashtext(e.id::text || dn.name) & 1023) / 200.0) * interval '1 second' end,
             e.created_at + interval '5 seconds'
      from crm_events e cross join (values ('monelec'), ('webhook')) dn(name)
      cross join lateral (select case
        when (hashtext(e.id::text || dn.name) & 1023) < 20 then 'dead'
        when (hashtext(e.id::text || dn.name) & 1023) < 30 then 'superseded'
        when e.seq > ${events} - ${Math.ceil(events / 50)} and (hashtext(e.id::text || dn.name) & 1023) < 60 then 'pending'
        when e.seq > ${events} - ${Math.ceil(events / 50)} and (hashtext(e.id::text || dn.name) & 1023) < 90 then 'blocked'
        else 'delivered' end as state) s;
      insert into crm_attempts (event_id, destination, attempt, at, http_status, duration_ms, outcome, error)
      select event_id, destination, 1, coalesce(delivered_at, updated_at), last_status, 40 + (seq % 200)::int,
             case state when 'delivered' then 'delivered' when 'dead' then 'dead' else 'retry' end, last_error
      from crm_deliveries where state not in ('pending', 'blocked');`);
    for (const table of ["crm_events", "crm_deliveries", "crm_attempts", "leads"]) await sql.unsafe(`vacuum analyze ${table}`);
    const [counts] = await sql`select (select count(*)::int from crm_deliveries) as deliveries, (select count(*)::int from crm_attempts) as attempts`;
    console.log(`filled in ${((Date.now() - t) / 1000).toFixed(0)} s: ${counts.deliveries} deliveries, ${counts.attempts} attempts`);
    const [dead] = await sql`select event_id, destination from crm_deliveries where state = 'dead' and destination = 'webhook' order by seq desc offset ${Math.floor(deliveries / 2000)} limit 1`;
    const [mid] = await sql`select seq, destination from crm_deliveries where destination = 'monelec' and state = 'dead' order by seq desc offset ${Math.floor(deliveries / 500)} limit 1`;
    await sql.end();

    const server = await startConsoleServer({
      databaseUrl: url,
      destinations: loadDestinations({ MONELEC_API_KEY: "bench", MONELEC_API_URL: "http://127.0.0.1:9/api" }, 2000),
      actor: "bench",
      port: 0,
    });
    const headers = { "x-console-token": server.token };
    const cases: [string, string, boolean][] = [
      ["overview (last hour)", "/api/overview", true],
      ["overview (24 h)", "/api/overview?window=24h", false],
      ["list, no filter", "/api/deliveries?limit=50", false],
      ["list, monelec dead", "/api/deliveries?destination=monelec&state=dead&limit=50", true],
      ["list, monelec dead, page ~40", `/api/deliveries?destination=monelec&state=dead&limit=50&cursor=${mid.seq}.${mid.destination}`, true],
      ["list, dead, all destinations", "/api/deliveries?state=dead&limit=50", true],
      ["list, HTTP 422", "/api/deliveries?status=422&limit=50", true],
      ["list, webhook, 3 days ago (2 h)", `/api/deliveries?destination=webhook&since=${new Date(Date.now() - 74 * 3600e3).toISOString()}&until=${new Date(Date.now() - 72 * 3600e3).toISOString()}&limit=50`, true],
      ["list, search by exact email", `/api/deliveries?q=${encodeURIComponent(`person${Math.floor(leads / 2)}@example.fr`)}&limit=50`, true],
      ["list, search by exact phone", `/api/deliveries?q=${encodeURIComponent(`06${String(Math.floor(leads / 3)).padStart(8, "0")}`)}&limit=50`, true],
      ["one delivery's page", `/api/deliveries/${dead.event_id}/${dead.destination}`, false],
    ];
    const rows: { case: string; median_ms: number; max_ms: number; rows: string; target: string }[] = [];
    let failed = false;
    for (const [name, path, target] of cases) {
      const times: number[] = [];
      let size = "";
      for (let i = 0; i < RUNS + 2; i++) {
        t = performance.now();
        const res = await fetch(`${server.baseUrl}${path}`, { headers });
        const body = await res.json() as { rows?: unknown[]; destinations?: unknown[] };
        if (!res.ok) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
        if (i >= 2) times.push(performance.now() - t);
        size = body.rows ? `${body.rows.length} rows` : body.destinations ? `${body.destinations.length} cards` : "";
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      const ok = median < TARGET_MS;
      if (target && !ok) failed = true;
      rows.push({ case: name, median_ms: Math.round(median), max_ms: Math.round(times[times.length - 1]), rows: size, target: target ? (ok ? "< 300 ms ✓" : "> 300 ms ✗") : "" });
    }
    await server.close();
    console.table(rows);
    console.log(failed ? "Some answers missed the 300 ms target." : `Every targeted answer's median is under ${TARGET_MS} ms at ${counts.deliveries} deliveries.`);
    return failed ? 1 : 0;
  } finally {
    await stop();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
