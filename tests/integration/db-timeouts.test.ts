/**
 * statement_timeout, lock_timeout and application_name are in force on the
 * connections createSql opens — checked by asking Postgres (`show …`) and by a
 * statement that outlives its limit. The pooler path is exercised on the same
 * server through `pgbouncer=true`, which makes createSql behave as it does
 * behind Supavisor's transaction mode (no startup parameters, no prepared statements).
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import { createSql, type Pool } from "../../src/db/sql.ts";

const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end({ timeout: 5 })));
});
const open = (url: string, opts: Parameters<typeof createSql>[1]) => {
  const sql = createSql(url, opts);
  pools.push(sql);
  return sql;
};

describe("a connection from createSql", () => {
  it("direct: the session carries the timeouts and the function's name", async () => {
    const sql = open(inject("pgAdminUrl"), { max: 1, applicationName: "form-start", statementTimeoutMs: 1500, lockTimeoutMs: 700 });
    const [row] = await sql`select current_setting('statement_timeout') as statement_timeout,
      current_setting('lock_timeout') as lock_timeout, current_setting('application_name') as application_name`;
    expect(row).toEqual({ statement_timeout: "1500ms", lock_timeout: "700ms", application_name: "form-start" });
    const [shown] = await sql`show statement_timeout`;
    expect(shown.statement_timeout).toBe("1500ms");
    // In force, not only set: a statement longer than the limit is cancelled (57014 query_canceled).
    await expect(sql`select pg_sleep(3)`).rejects.toMatchObject({ code: "57014" });
  });

  it("the defaults are 15 s and 5 s", async () => {
    const sql = open(inject("pgAdminUrl"), { max: 1 });
    const [row] = await sql`select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l`;
    expect(row).toEqual({ s: "15s", l: "5s" });
  });

  it("behind a pooler: every transaction sets its own timeouts (SET LOCAL), nothing leaks to the session", async () => {
    const sql = open(`${inject("pgAdminUrl")}?pgbouncer=true`, { max: 1, statementTimeoutMs: 1200, lockTimeoutMs: 600 });
    const [outside] = await sql`show statement_timeout`;
    expect(outside.statement_timeout).toBe("0"); // the server's default: no startup parameter was sent
    const inside = await sql.begin(async (tx) => {
      const [row] = await tx`select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l`;
      return row;
    });
    expect(inside).toEqual({ s: "1200ms", l: "600ms" });
    await expect(sql.begin((tx) => tx`select pg_sleep(3)`)).rejects.toMatchObject({ code: "57014" });
    const [after] = await sql`show statement_timeout`;
    expect(after.statement_timeout).toBe("0");
  });

  it("behind a pooler: a lock held elsewhere is given up after lock_timeout (55P03)", async () => {
    const holder = open(inject("pgAdminUrl"), { max: 1 });
    const sql = open(`${inject("pgAdminUrl")}?pgbouncer=true`, { max: 1, lockTimeoutMs: 300 });
    const table = `lock_probe_${process.pid}_${Date.now()}`;
    await holder`create table ${holder(table)} (id int primary key)`;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holding = holder.begin(async (tx) => {
      await tx`lock table ${tx(table)} in access exclusive mode`;
      locked();
      await released;
    });
    await isLocked;
    const started = Date.now();
    await expect(sql.begin((tx) => tx`select * from ${tx(table)}`)).rejects.toMatchObject({ code: "55P03" });
    expect(Date.now() - started).toBeLessThan(2_500);
    release();
    await holding;
    await holder`drop table ${holder(table)}`;
  });
});
