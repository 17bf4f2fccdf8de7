import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cp, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, MIGRATIONS_DIR } from "../../scripts/lib/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(); // already migrated once
});
afterAll(async () => {
  await db?.drop();
});

describe("migrations", () => {
  it("record what they applied, and a second run changes nothing", async () => {
    const applied = await db.sql`select version, name from supabase_migrations.schema_migrations order by version`;
    const names = applied.map((r) => r.name);
    expect(names.slice(0, 6)).toEqual(["core_schema", "crm_outbox", "crm_dispatch_schedule", "rate_limits", "crm_events_autovacuum", "crm_destinations"]);
    for (const later of ["payment_facts", "request_contact", "rate_limit_windows", "idempotency_keys", "revoke_client_roles"]) expect(names).toContain(later);
    const again = await migrate(db.url);
    expect(again.applied).toEqual([]);
    expect(again.skipped).toHaveLength(applied.length);
  });

  it("can each be re-run by hand without error (idempotent SQL)", async () => {
    const rows = await db.sql<{ statements: string[] }[]>`select statements from supabase_migrations.schema_migrations order by version`;
    for (const { statements } of rows) await db.sql.unsafe(statements[0]);
    const [{ n }] = await db.sql`select count(*)::int as n from prices`;
    expect(n).toBe(5);
  });

  it("two concurrent runs on a fresh database both succeed", async () => {
    const admin = postgres(db.url.replace(/\/[^/]+$/, "/postgres"), { max: 1, onnotice: () => {} });
    const name = `m_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
    await admin.unsafe(`create database ${name}`);
    const url = db.url.replace(/\/[^/]+$/, `/${name}`);
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    const [{ n }] = await db.sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
    expect(a.applied.length + b.applied.length).toBe(n);
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  });

  it("enable RLS on every table, with no policy", async () => {
    const tables = await db.sql`
      select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' order by 1`;
    expect(tables.length).toBeGreaterThanOrEqual(8);
    for (const t of tables) expect(t, t.relname).toMatchObject({ relrowsecurity: true });
    const [{ n }] = await db.sql`select count(*)::int as n from pg_policies where schemaname = 'public'`;
    expect(n).toBe(0);
  });

  it("constraints carry the rules", async () => {
    const bad = [
      db.sql`insert into leads (email) values ('Upper@Case.fr')`,
      db.sql`insert into leads (email, phone) values ('a@b.fr', '0612345678')`,
      db.sql`insert into leads (email, connection_type) values ('a@b.fr', 'solaire')`,
      db.sql`insert into customers (email, client_type) values ('pro@b.fr', 'professionnel')`,
      db.sql`insert into requests (customer_id, type_raccordement) values (gen_random_uuid(), 'definitif')`,
      db.sql`insert into stripe_events (id, type) values ('evt_1', 'x'), ('evt_1', 'x')`,
      db.sql`insert into crm_events (id, type, record_type, record_id, data)
             values (gen_random_uuid(), 'payment.done', 'lead', gen_random_uuid(), '{}')`,
      db.sql`insert into crm_deliveries (event_id, destination, record_id, seq, state)
             values (gen_random_uuid(), 'monelec', gen_random_uuid(), 1, 'pending')`, // no such event
    ];
    for (const query of bad) await expect(query).rejects.toThrow();
    await db.sql`insert into customers (email) values ('same@b.fr')`;
    await expect(db.sql`insert into customers (email) values ('same@b.fr')`).rejects.toThrow(/unique/);
  });

  it("carry the one-CRM outbox over to events and deliveries without loss", async () => {
    const admin = postgres(db.url.replace(/\/[^/]+$/, "/postgres"), { max: 1, onnotice: () => {} });
    const name = `o_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
    await admin.unsafe(`create database ${name}`);
    const url = db.url.replace(/\/[^/]+$/, `/${name}`);
    const old = await mkdtemp(join(tmpdir(), "old-migrations-"));
    for (const f of (await readdir(MIGRATIONS_DIR)).filter((f) => f < "20261129")) await cp(join(MIGRATIONS_DIR, f), join(old, f));
    await migrate(url, old);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const lead = crypto.randomUUID();
      const rows = [
        { state: "delivered", attempts: 1, last_status: 201 },
        { state: "dead", attempts: 1, last_status: 422 },
        { state: "pending", attempts: 2, last_status: 503 },
        { state: "skipped", attempts: 0, last_status: null },
      ].map((r, i) => ({ id: crypto.randomUUID(), endpoint: "/leads", aggregate_type: "lead", aggregate_id: lead, body: sql.json({ n: i }), ...r }));
      for (const r of rows) await sql`insert into crm_events ${sql(r)}`;
      await migrate(url);
      const events = await sql`select id, type, record_type, record_id, data, fanout from crm_events order by seq`;
      expect(events.map((e) => [e.id, e.type, e.record_id, e.data, e.fanout])).toEqual(
        rows.map((r, i) => [r.id, "lead.upserted", lead, { n: i }, r.state === "skipped" ? 0 : 1]));
      const deliveries = await sql`select event_id, destination, state, attempts, last_status from crm_deliveries order by seq`;
      expect(deliveries.map((d) => [d.event_id, d.destination, d.state, d.attempts, d.last_status])).toEqual(
        rows.filter((r) => r.state !== "skipped").map((r) => [r.id, "monelec", r.state, r.attempts, r.last_status]));
      // New events number after the carried ones.
      const [next] = await sql`insert into crm_events (id, type, record_type, record_id, data) values (gen_random_uuid(), 'lead.upserted', 'lead', ${lead}, '{}') returning seq`;
      expect(Number(next.seq)).toBeGreaterThan(4);
    } finally {
      await sql.end();
      await admin.unsafe(`drop database ${name} with (force)`);
      await admin.end();
    }
  });
});
