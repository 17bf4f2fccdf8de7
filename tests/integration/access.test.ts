/**
 * Supabase exposes the public schema to the `anon` and `authenticated` roles
 * (through PostgREST) and grants them table privileges by default; only RLS
 * keeps them out. Recreate that locally and check they can read or write nothing.
 */
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

const tables = ["leads", "customers", "requests", "callbacks", "payments", "stripe_events", "prices", "crm_events", "crm_deliveries", "crm_attempts", "crm_destinations", "crm_remote_ids", "rate_limits",
  "crm_sweeps", "crm_dispatch_runs", "crm_maintenance", "crm_pruned_records"];

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
