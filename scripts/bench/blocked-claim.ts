/**
 * The claim's cost with deliveries blocked behind dead heads (issue 12): for
 * 5k, 10k and 20k blocked deliveries at one destination, the sweeper's claim
 * (src/outbox/claim.ts, limit 16, rate bucket on) timed with 64 healthy
 * deliveries due beside them. The blocked ones are put there as an outage
 * leaves them — due and `pending` behind a `dead` head (4 per record) — and
 * parked by the product's own claim + park (src/outbox/deliver.ts
 * claimAndPark) before the measurement, as the sweeper would. Each timed claim
 * runs in a transaction that is rolled back, so every one sees the same rows.
 * A destination of its own (`bench_blocked`), removed afterwards.
 */
import type postgres from "postgres";
import { claim } from "../../src/outbox/claim.ts";
import { park } from "../../src/outbox/park.ts";
import type { Bench } from "./environment.ts";
import { percentile, round, sorted } from "./stats.ts";

const DEST = "bench_blocked";
const PER_RECORD = 4;
const HEALTHY = 64;
const SAMPLES = 25;

export interface BlockedClaim {
  blocked: number;
  /** Claims + parks it took the product to park them all. */
  parkingClaims: number;
  /** Wall time of the claim statement (driver round trip included), median and p90 of SAMPLES. */
  claimMs: { p50: number; p90: number };
  /** EXPLAIN ANALYZE's execution time of the same claim. */
  planMs: number;
  claimed: number;
}

async function addBlocked(db: postgres.Sql, records: number) {
  await db`
    with recs as (select gen_random_uuid() as rid from generate_series(1, ${records}::int)),
    ev as (
      insert into crm_events (id, type, record_type, record_id, data, fanout)
      select gen_random_uuid(), 'lead.upserted', 'lead', rid, '{"bench":"blocked"}'::jsonb, 1
      from recs, generate_series(1, ${PER_RECORD + 1}::int)
      returning id, record_id, seq),
    numbered as (select ev.*, row_number() over (partition by record_id order by seq) as rn from ev)
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, last_error)
    select id, ${DEST}, record_id, seq, case when rn = 1 then 'dead' else 'pending' end, case when rn = 1 then 7 else 0 end,
           'bench: dead head'
    from numbered`;
}

async function parkAll(db: postgres.Sql): Promise<number> {
  let claims = 0;
  for (;;) {
    const got = await claim(db, { destination: DEST, limit: 256, leaseMs: 15_000, rate: { perSecond: 1e6, burst: 1e6 } });
    claims++;
    if (got.behind.length === 0) return claims;
    await park(db, DEST, got.behind);
    if (claims > 10_000) throw new Error("parking did not finish");
  }
}

async function measure(bench: Bench): Promise<Omit<BlockedClaim, "blocked" | "parkingClaims">> {
  const db = bench.db;
  // Healthy due deliveries, one per record, inserted for the measurement and removed after it.
  await db`
    with ev as (
      insert into crm_events (id, type, record_type, record_id, data, fanout)
      select gen_random_uuid(), 'lead.upserted', 'lead', gen_random_uuid(), '{"bench":"healthy"}'::jsonb, 1
      from generate_series(1, ${HEALTHY}::int) returning id, record_id, seq)
    insert into crm_deliveries (event_id, destination, record_id, seq) select id, ${DEST}, record_id, seq from ev`;
  await db`analyze crm_deliveries`;
  const opts = { destination: DEST, limit: 16, leaseMs: 15_000, rate: { perSecond: 1e6, burst: 1e6 } };
  const times: number[] = [];
  let claimed = 0;
  let planMs = NaN;
  const seen: string[] = [];
  for (let i = 0; i < SAMPLES + 3; i++) {
    await db.begin(async (tx) => {
      const t = performance.now();
      const got = await claim(tx as unknown as postgres.Sql, opts);
      const ms = performance.now() - t;
      if (i >= 3) times.push(ms); // the first few warm the caches
      claimed = got.claimed.length;
      throw new Error("rollback");
    }).catch((e) => { if ((e as Error).message !== "rollback") throw e; });
  }
  // The same statement under EXPLAIN ANALYZE (captured from the driver, rolled back too).
  const sql = (await import("postgres")).default(bench.off.databaseUrl, {
    max: 1, prepare: false, onnotice: () => {},
    debug: (_c, query, params) => void (/with gate as/i.test(query) && seen.push(JSON.stringify({ query, params }))),
  });
  try {
    await sql.begin(async (tx) => {
      await claim(tx as unknown as postgres.Sql, opts);
      const { query, params } = JSON.parse(seen.at(-1)!);
      const rows = await tx.unsafe<Array<Record<string, string>>>(`explain (analyze, costs off) ${query}`, params);
      planMs = Number(/Execution Time: ([\d.]+)/.exec(rows.map((r) => r["QUERY PLAN"]).join("\n"))?.[1] ?? NaN);
      throw new Error("rollback");
    }).catch((e) => { if ((e as Error).message !== "rollback") throw e; });
  } finally {
    await sql.end({ timeout: 5 });
  }
  await db`delete from crm_events where id in (select event_id from crm_deliveries where destination = ${DEST} and state = 'pending')`;
  const s = sorted(times);
  return { claimMs: { p50: round(percentile(s, 50), 3), p90: round(percentile(s, 90), 3) }, planMs, claimed };
}

export async function blockedClaims(bench: Bench, sizes = [5_000, 10_000, 20_000]): Promise<BlockedClaim[]> {
  const db = bench.db;
  await db`insert into crm_destinations (name) values (${DEST}) on conflict do nothing`;
  const out: BlockedClaim[] = [];
  let have = 0;
  try {
    for (const blocked of sizes) {
      await addBlocked(db, Math.ceil((blocked - have) / PER_RECORD));
      have = blocked;
      const parkingClaims = await parkAll(db);
      const [{ n }] = await db<{ n: number }[]>`select count(*)::int as n from crm_deliveries where destination = ${DEST} and state = 'blocked'`;
      out.push({ blocked: n, parkingClaims, ...(await measure(bench)) });
    }
  } finally {
    await db`delete from crm_events where id in (select event_id from crm_deliveries where destination = ${DEST})`;
    await db`delete from crm_destinations where name = ${DEST}`;
  }
  return out;
}
