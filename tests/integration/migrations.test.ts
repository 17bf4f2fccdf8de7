import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../scripts/lib/migrate.ts";
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
    expect(applied.map((r) => r.name)).toEqual([
      "core_schema", "crm_outbox", "crm_dispatch_schedule", "rate_limits", "crm_events_autovacuum",
      "payment_facts", "request_contact", "rate_limit_windows", "idempotency_keys", "revoke_client_roles",
    ]);
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
      db.sql`insert into crm_events (id, endpoint, aggregate_type, aggregate_id, body, state)
             values (gen_random_uuid(), '/payments', 'lead', gen_random_uuid(), '{}', 'pending')`,
    ];
    for (const query of bad) await expect(query).rejects.toThrow();
    await db.sql`insert into customers (email) values ('same@b.fr')`;
    await expect(db.sql`insert into customers (email) values ('same@b.fr')`).rejects.toThrow(/unique/);
  });
});
