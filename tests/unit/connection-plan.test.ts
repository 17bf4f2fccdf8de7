/**
 * The database URL decides the connection (docs/deploy.md): Supabase's
 * transaction pooler (Supavisor on 6543, or `pgbouncer=true`) cannot keep a
 * prepared statement between transactions, and no pooler passes startup
 * parameters on to Postgres — so where the timeouts go depends on the URL.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { connectionPlan } from "../../src/db/sql.ts";

const REF = "abcdefghijklmnopqrst";
const direct = `postgresql://postgres:pw@db.${REF}.supabase.co:5432/postgres`;
const transactionPooler = `postgresql://postgres.${REF}:pw@aws-0-eu-west-3.pooler.supabase.com:6543/postgres`;
const sessionPooler = `postgresql://postgres.${REF}:pw@aws-0-eu-west-3.pooler.supabase.com:5432/postgres`;

describe("connectionPlan: URL → prepared statements and timeouts", () => {
  it("direct connection (and the local stack): prepared statements on, timeouts as startup parameters", () => {
    for (const url of [direct, "postgres://postgres:postgres@127.0.0.1:54322/postgres", "postgres://u@localhost/db"]) {
      const plan = connectionPlan(url, { applicationName: "form-start" });
      expect(plan).toMatchObject({ url, pooler: "none", prepare: true, perTransaction: undefined });
      expect(plan.connection).toEqual({ application_name: "form-start", statement_timeout: "15000", lock_timeout: "5000" });
    }
  });

  it("transaction pooler (port 6543): prepared statements off, timeouts set in each transaction", () => {
    const plan = connectionPlan(transactionPooler, { applicationName: "form-submit", statementTimeoutMs: 9000, lockTimeoutMs: 2000 });
    expect(plan).toMatchObject({ pooler: "transaction", prepare: false, url: transactionPooler });
    expect(plan.connection).toEqual({ application_name: "form-submit" });
    expect(plan.perTransaction).toEqual({ statement_timeout: "9000", lock_timeout: "2000" });
  });

  it("pgbouncer=true marks a transaction pooler on any port, and is not sent to Postgres", () => {
    const plan = connectionPlan(`postgresql://postgres:pw@db.${REF}.supabase.co:5432/postgres?pgbouncer=true&sslmode=require`);
    expect(plan).toMatchObject({ pooler: "transaction", prepare: false });
    expect(new URL(plan.url).searchParams.has("pgbouncer")).toBe(false);
    expect(new URL(plan.url).searchParams.get("sslmode")).toBe("require");
    expect(connectionPlan(`${direct}?pgbouncer=false`)).toMatchObject({ pooler: "none", prepare: true });
  });

  it("session pooler (pooler host, port 5432): prepared statements on, timeouts per transaction", () => {
    const plan = connectionPlan(sessionPooler);
    expect(plan).toMatchObject({ pooler: "session", prepare: true });
    expect(plan.connection).toEqual({ application_name: "raccordement" });
    expect(plan.perTransaction).toEqual({ statement_timeout: "15000", lock_timeout: "5000" });
  });

  it("pool size: the option, else the default; an explicit prepare wins (benchmarks)", () => {
    expect(connectionPlan(direct).max).toBe(2);
    expect(connectionPlan(direct, { max: 2 }).max).toBe(2);
    expect(connectionPlan(direct, { prepare: false }).prepare).toBe(false);
  });

  it("a URL that is not one is refused without echoing it (it holds a password)", () => {
    expect(() => connectionPlan("host=db password=secret")).toThrow(/not a URL/);
    expect(() => connectionPlan("host=db password=secret")).not.toThrow(/secret/);
  });

  it("the timeouts come from DB_STATEMENT_TIMEOUT_MS / DB_LOCK_TIMEOUT_MS, 15 s / 5 s by default", () => {
    const base = { DATABASE_URL: direct };
    expect(loadConfig(base)).toMatchObject({ dbPoolMax: 2, dbStatementTimeoutMs: 15_000, dbLockTimeoutMs: 5_000 });
    expect(loadConfig({ ...base, DB_STATEMENT_TIMEOUT_MS: "30000", DB_LOCK_TIMEOUT_MS: "1000" })).toMatchObject({
      dbStatementTimeoutMs: 30_000,
      dbLockTimeoutMs: 1_000,
    });
    expect(() => loadConfig({ ...base, DB_LOCK_TIMEOUT_MS: "5s" })).toThrow(/DB_LOCK_TIMEOUT_MS must be a positive integer/);
  });
});
