/**
 * Supabase exposes the public schema to the `anon` and `authenticated` roles
 * (through PostgREST) and grants them table privileges by default; only RLS
 * keeps them out. Recreate that locally and check they can read or write nothing
 * even so; then that the migrations take those privileges away altogether.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS_DIR } from "../../scripts/lib/migrate.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  for (const role of ["anon", "authenticated"]) {
    await db.sql.unsafe(`do $$ begin create role ${role} nologin; exception when duplicate_object then null; end $$`);
  }
  // Supabase's default privileges on public tables.
  await db.sql.unsafe(`grant usage on schema public to anon, authenticated;
    grant all on all tables in schema public to anon, authenticated;
    grant all on all sequences in schema public to anon, authenticated`);
  await db.sql`insert into leads (email) values ('secret@example.fr')`;
  await db.sql`with e as (insert into crm_events (id, type, record_type, record_id, data, fanout)
                          values (gen_random_uuid(), 'lead.upserted', 'lead', gen_random_uuid(), '{}', 1) returning id, record_id, seq)
               insert into crm_deliveries (event_id, destination, record_id, seq) select id, 'monelec', record_id, seq from e`;
});
afterAll(async () => {
  await db?.drop();
});

const tables = [
  "leads", "customers", "requests", "callbacks", "payments", "stripe_events", "prices",
  "crm_events", "crm_deliveries", "crm_attempts", "crm_destinations", "crm_remote_ids",
  "rate_limit_buckets", "idempotency_keys", "payment_anomalies",
  "crm_sweeps", "crm_dispatch_runs", "crm_maintenance", "crm_pruned_records", "operator_actions", "alert_incidents",
];

describe.each(["anon", "authenticated"])("as %s", (role) => {
  it("reads no row of any table", async () => {
    for (const table of tables) {
      const rows = await db.sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx.unsafe(`select * from ${table}`);
      });
      expect(rows, table).toHaveLength(0);
    }
  });

  it("writes nothing: inserts refused, updates and deletes touch no row", async () => {
    const asRole = (statement: string) =>
      db.sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx.unsafe(statement);
      });
    await expect(asRole(`insert into leads (email) values ('x@example.fr')`)).rejects.toThrow(/row-level security/);
    await expect(asRole(`insert into prices (type_raccordement, amount) values ('definitif', 1)`)).rejects.toThrow(/row-level security/);
    expect((await asRole(`update prices set amount = 1`)).count).toBe(0);
    expect((await asRole(`delete from leads`)).count).toBe(0);
    expect((await asRole(`update crm_deliveries set state = 'delivered'`)).count).toBe(0);
    const [{ n }] = await db.sql`select count(*)::int as n from leads`;
    expect(n).toBe(1);
  });

  it("cannot run the operations functions (PostgREST would expose them as /rpc)", async () => {
    for (const call of ["select crm_retention()", "select crm_dispatch_tick()", "select crm_dispatch_due()"]) {
      await expect(db.sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        return await tx.unsafe(call);
      }), call).rejects.toThrow(/permission denied for function/);
    }
  });
});

describe("privileges", () => {
  it("the migrations revoke anon's and authenticated's privileges on every table, and on tables made later", async () => {
    // Supabase's default privileges for tables the migration role creates later.
    await db.sql.unsafe(`alter default privileges in schema public grant all on tables to anon, authenticated`);
    await db.sql.unsafe(readFileSync(join(MIGRATIONS_DIR, "20261129000540_revoke_client_roles.sql"), "utf8"));
    await db.sql.unsafe(`create table if not exists later_table (id int)`);
    const granted = await db.sql<{ role: string; table: string }[]>`
      select r.rolname as role, c.relname as table
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join (select rolname from pg_roles where rolname in ('anon', 'authenticated')) r
      where n.nspname = 'public' and c.relkind = 'r'
        and (has_table_privilege(r.rolname, c.oid, 'select') or has_table_privilege(r.rolname, c.oid, 'insert')
             or has_table_privilege(r.rolname, c.oid, 'update') or has_table_privilege(r.rolname, c.oid, 'delete'))`;
    expect(granted).toEqual([]);
    const denied = db.sql.begin(async (tx) => {
      await tx.unsafe(`set local role anon`);
      return await tx.unsafe(`select * from leads`);
    });
    await expect(denied).rejects.toThrow(/permission denied/);
    await db.sql.unsafe(`drop table later_table`);
  });
});
