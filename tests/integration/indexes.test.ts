/**
 * Every operator, status, erasure and retention query reads an index at a
 * million deliveries (issue #11): the real code runs against a million
 * delivered deliveries (with their events and attempt logs) and a few hundred
 * waiting, blocked and dead ones, while Postgres' auto_explain hands the plan
 * of every statement it runs — nested ones inside crm_retention too — back to
 * the client. No plan may read crm_deliveries, crm_events or crm_attempts with
 * a sequential scan.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfill } from "../../src/operator/backfill.ts";
import { deadDeliveries } from "../../src/operator/failed.ts";
import { forget } from "../../src/operator/forget.ts";
import { runRetention } from "../../src/operator/retention.ts";
import { discardDead, retryDead, sendPendingNow } from "../../src/operator/retry.ts";
import { outboxStatus } from "../../src/operator/status.ts";
import { claim } from "../../src/outbox/claim.ts";
import { park, unpark } from "../../src/outbox/park.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

const ROWS = Number(process.env.INDEX_TEST_ROWS ?? 1_000_000);
const HOT = new Set(["crm_deliveries", "crm_events", "crm_attempts"]);
let db: TestDatabase;
let sql: postgres.Sql;
const plans: unknown[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const started = Date.now();
  const setup = postgres(db.url, { max: 1, onnotice: () => {}, connection: { statement_timeout: "0", maintenance_work_mem: "256MB" } as Record<string, string> });
  // Bulk load as a restore would: secondary indexes built after the rows, foreign-key triggers off for the load.
  const indexes = await setup<{ indexname: string; indexdef: string }[]>`
    select i.indexname, i.indexdef from pg_indexes i
    where i.schemaname = 'public' and i.tablename in ('crm_events', 'crm_deliveries', 'crm_attempts')
      and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`;
  for (const i of indexes) await setup.unsafe(`drop index ${i.indexname}`);
  await setup.unsafe(`set session_replication_role = replica`);
  // Ids in order (the plans do not depend on their values; a b-tree loads ordered keys much faster).
  await setup.unsafe(`
    insert into crm_events (id, type, record_type, record_id, data, fanout, created_at)
    select lpad(to_hex(i), 32, '0')::uuid, 'lead.upserted', 'lead', ('f' || lpad(to_hex(i), 31, '0'))::uuid,
           jsonb_build_object('email', 'p' || i || '@example.fr', 'phone', '+336' || lpad(i::text, 8, '0'), 'firstName', 'Marie'),
           1, now() - interval '40 days' + i * interval '1 ms'
    from generate_series(1, ${ROWS}) i`);
  await setup.unsafe(`
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, created_at, updated_at, delivered_at)
    select id, case when seq % 2 = 0 then 'monelec' else 'webhook' end, record_id, seq, 'delivered', 1, created_at, created_at, created_at
    from crm_events`);
  await setup.unsafe(`
    insert into crm_attempts (event_id, destination, attempt, at, http_status, duration_ms, outcome)
    select event_id, destination, 1, updated_at, 200, 20, 'delivered' from crm_deliveries`);
  await setup.unsafe(`set session_replication_role = origin`);
  for (const i of indexes) await setup.unsafe(i.indexdef);
  // A few hundred waiting, parked and dead deliveries, as in real life.
  await setup.unsafe(`
    insert into crm_events (id, type, record_type, record_id, data, fanout)
    select gen_random_uuid(), 'lead.upserted', 'lead', gen_random_uuid(), jsonb_build_object('email', 'w' || i || '@example.fr'), 1
    from generate_series(1, 300) i`);
  await setup.unsafe(`
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts)
    select id, 'monelec', record_id, seq, (array['pending', 'blocked', 'dead'])[1 + seq % 3], seq % 3
    from crm_events where data->>'email' like 'w%'`);
  await setup.unsafe(`insert into crm_destinations (name) values ('monelec'), ('webhook')`);
  await setup.unsafe(`insert into leads (email, phone) values ('p42@example.fr', '+33600000042')`);
  await setup.unsafe(`vacuum analyze crm_events`);
  await setup.unsafe(`vacuum analyze crm_deliveries`);
  await setup.unsafe(`vacuum analyze crm_attempts`);
  await setup.unsafe(`analyze crm_destinations`);
  await setup.unsafe(`analyze leads`);
  await setup.end();
  console.log(`indexes.test: ${ROWS.toLocaleString("en")} rows each in crm_events, crm_deliveries, crm_attempts in ${Date.now() - started} ms`);
  sql = postgres(db.url, {
    max: 1,
    connection: {
      session_preload_libraries: "auto_explain",
      "auto_explain.log_min_duration": "0",
      "auto_explain.log_level": "notice",
      "auto_explain.log_format": "json",
      "auto_explain.log_nested_statements": "on",
    } as Record<string, string>,
    onnotice: (n) => {
      const text = String(n.message);
      const json = text.slice(text.indexOf("{"));
      try {
        plans.push(JSON.parse(json));
      } catch {
        /* not a plan */
      }
    },
  });
}, 180_000);
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Runs `action`, returns the scans on hot tables of every statement it made. */
async function scansOf(action: () => Promise<unknown>): Promise<{ seq: string[]; indexes: Set<string>; statements: number }> {
  plans.length = 0;
  await action();
  const all = (plans as Array<{ "Query Text": string; Plan: PlanNode }>).filter((p) => p.Plan);
  const flat = all.flatMap((p) => nodes(p.Plan).map((n) => ({ n, q: p["Query Text"] })));
  if (process.env.SHOW_PLANS) for (const p of all) console.log(p["Query Text"].slice(0, 300), JSON.stringify(p.Plan, (k, v) => (["Node Type", "Relation Name", "Index Name", "Plans", "Filter", "Index Cond", "Join Filter", "Subplan Name"].includes(k) || /^\d+$/.test(k) || k === "" ? v : undefined)));
  const seq = flat.filter(({ n }) => n["Node Type"] === "Seq Scan" && HOT.has(n["Relation Name"] ?? ""))
    .map(({ n, q }) => `${n["Relation Name"]} in: ${q.replace(/\s+/g, " ").slice(0, 200)}`);
  return { seq, indexes: new Set(flat.map(({ n }) => n["Index Name"]).filter(Boolean) as string[]), statements: all.length };
}

describe(`at ${ROWS.toLocaleString("en")} deliveries, no sequential scan of the hot tables`, () => {
  it("the claim, parking and unparking", async () => {
    const r = await scansOf(async () => {
      const got = await claim(sql, { destination: "monelec", limit: 16, leaseMs: 10_000, rate: { perSecond: 100, burst: 100 } });
      expect(got.claimed.length).toBeGreaterThan(0);
      await park(sql, "monelec", got.behind);
      await unpark(sql, got.claimed.map((c) => ({ destination: "monelec", recordId: c.recordId })));
    });
    expect(r.seq).toEqual([]);
    expect(r.indexes).toContain("crm_deliveries_order_idx"); // the claim's final update (the target is pending or blocked)
  });

  it("crm status", async () => {
    const r = await scansOf(async () => {
      const s = await outboxStatus(sql, ["monelec", "webhook"]);
      expect(s.destinations.find((d) => d.name === "webhook")!.counts.delivered).toBe(ROWS / 2);
      expect(s.destinations.find((d) => d.name === "monelec")!.counts.dead).toBe(100);
    });
    expect(r.seq).toEqual([]);
    expect(r.indexes).toContain("crm_deliveries_state_idx");
    expect(r.indexes).toContain("crm_deliveries_waiting_idx");
  });

  it("crm failed, with and without a destination", async () => {
    const r = await scansOf(async () => {
      expect(await deadDeliveries(sql)).toHaveLength(100);
      expect(await deadDeliveries(sql, { destination: "monelec", limit: 10 })).toHaveLength(10);
    });
    expect(r.seq).toEqual([]);
  });

  it("retry, discard and send-now by destination (and for all)", async () => {
    const r = await scansOf(async () => {
      await sendPendingNow(sql, { destination: "monelec" });
      await sendPendingNow(sql, {});
      const dead = await deadDeliveries(sql, { limit: 2 });
      await retryDead(sql, { destination: "monelec", eventId: dead[0].event_id });
      await discardDead(sql, { destination: "monelec", eventId: dead[1].event_id });
      await discardDead(sql, { destination: "webhook" });
    });
    expect(r.seq).toEqual([]);
  });

  it("forget's lookups and deletes", async () => {
    const r = await scansOf(async () => {
      const report = await forget(sql, { kind: "email", value: "p42@example.fr" });
      expect(report.deleted).toMatchObject({ leads: 1, events: 1, deliveries: 1, attempts: 1 });
      await forget(sql, { kind: "phone", value: "+33600000077" });
    });
    expect(r.seq).toEqual([]);
    expect(r.indexes).toContain("crm_events_email_idx");
    expect(r.indexes).toContain("crm_events_phone_idx");
  });

  it("backfill's checks", async () => {
    const r = await scansOf(() => backfill(sql, ["monelec"]));
    expect(r.seq).toEqual([]);
  });

  it("retention's batched deletes (one step of 5,000 per table)", async () => {
    const r = await scansOf(async () => {
      const report = await runRetention(sql, { days: 30, force: true, maxMs: 0 });
      expect(report.deleted).toMatchObject({ deliveries: 5_000, events: 5_000, attempts: 5_000 });
      expect(report.more).toBe(true);
    });
    expect(r.seq).toEqual([]);
    expect(r.statements).toBeGreaterThan(5); // the nested statements were explained too
  });
});
