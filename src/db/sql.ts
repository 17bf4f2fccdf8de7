/**
 * One small postgres.js pool per isolate, shaped by the URL it is given
 * (docs/deploy.md, "Direct connection vs transaction pooler"):
 *
 * - Supabase's transaction pooler (Supavisor, port 6543, or any URL with
 *   `pgbouncer=true`) hands each transaction to whichever server connection is
 *   free: a prepared statement made on one is unknown on the next, so prepared
 *   statements are off there and on everywhere else.
 * - `statement_timeout` and `lock_timeout` bound every statement. On a direct
 *   connection they are startup parameters, applied by Postgres itself to the
 *   whole session. A pooler (Supavisor in either mode, PgBouncer) does not pass
 *   startup parameters on, so there each transaction opened with `sql.begin`
 *   sets them for itself (`set_config(…, true)`, i.e. SET LOCAL); a single
 *   statement outside a transaction falls under Supabase's own global limit.
 * - `application_name` names the function in `pg_stat_activity` (direct
 *   connection; Supavisor keeps it for its own metrics).
 *
 * Prepared statements on the direct connection, measured with scripts/bench/prepared-statements.ts
 * (5,000 form-start requests through the real handler per round, embedded Postgres 17, the 2-core
 * dev machine shared with other jobs): one connection, 3 rounds — prepare on 438 req/s, p50 1.46 ms,
 * p95 5.56 ms; off 316 req/s, p50 2.63 ms, p95 6.50 ms (on was faster in every round); four
 * connections, 4 rounds — on 513 req/s, p50 6.08 ms; off 466 req/s, p50 7.20 ms (p95 equal).
 * So prepared statements stay on wherever the pooler allows them (docs/operations.md).
 */
import postgres from "postgres";
import { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_POOL_MAX, DEFAULT_STATEMENT_TIMEOUT_MS } from "../config.ts";

export type Pool = postgres.Sql;
/** A pool or a transaction: queries run on either. */
export type Sql = Pool | postgres.TransactionSql;

export const DEFAULT_APPLICATION_NAME = "raccordement";

export interface SqlOptions {
  /** Connections this pool may open (DB_POOL_MAX). */
  max?: number;
  /** Shown in pg_stat_activity: the function's name. */
  applicationName?: string;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Overrides the URL's choice (benchmarks only). */
  prepare?: boolean;
}

export type PoolerMode = "transaction" | "session" | "none";

/** What the URL means for the connection, decided without connecting. */
export interface ConnectionPlan {
  /** The URL postgres.js gets: `pgbouncer` removed (Postgres would refuse it as a startup parameter). */
  url: string;
  pooler: PoolerMode;
  prepare: boolean;
  max: number;
  /** Startup parameters sent when each connection opens. */
  connection: Record<string, string>;
  /** Set at the start of every `sql.begin` transaction, when the startup parameters cannot carry them. */
  perTransaction: { statement_timeout: string; lock_timeout: string } | undefined;
}

const isSupavisorHost = (host: string) => /\.pooler\.supabase\.com$/i.test(host);

export function connectionPlan(url: string, opts: SqlOptions = {}): ConnectionPlan {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error("The database URL is not a URL (postgres://user:password@host:port/database).");
  }
  const pgbouncer = parsed.searchParams.get("pgbouncer");
  parsed.searchParams.delete("pgbouncer");
  const port = parsed.port || "5432";
  const pooler: PoolerMode =
    port === "6543" || pgbouncer === "true" ? "transaction" : isSupavisorHost(parsed.hostname) ? "session" : "none";
  const statementTimeout = String(opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS);
  const lockTimeout = String(opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const timeouts = { statement_timeout: statementTimeout, lock_timeout: lockTimeout };
  return {
    url: pgbouncer === null ? url : parsed.toString(),
    pooler,
    prepare: opts.prepare ?? pooler !== "transaction",
    max: opts.max ?? DEFAULT_POOL_MAX,
    connection: {
      application_name: opts.applicationName ?? DEFAULT_APPLICATION_NAME,
      ...(pooler === "none" ? timeouts : {}),
    },
    perTransaction: pooler === "none" ? undefined : timeouts,
  };
}

type Begin = (...args: unknown[]) => Promise<unknown>;

export function createSql(url: string, options: SqlOptions | number = {}): Pool {
  const plan = connectionPlan(url, typeof options === "number" ? { max: options } : options);
  const sql = postgres(plan.url, {
    max: plan.max,
    prepare: plan.prepare,
    connection: plan.connection,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: () => {},
    // An absent optional field is stored as NULL.
    transform: { undefined: null },
    // numeric/int8 → JS number: every numeric in this schema is small (power_kva, counts).
    types: {
      numeric: { to: 1700, from: [1700, 20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
    },
  });
  const timeouts = plan.perTransaction;
  if (timeouts) {
    // Behind a pooler the session settings never reach Postgres: every transaction sets its own.
    const begin = sql.begin.bind(sql) as Begin;
    (sql as unknown as { begin: Begin }).begin = (...args: unknown[]) => {
      const fn = args.pop() as (tx: postgres.TransactionSql) => unknown;
      return begin(...args, async (tx: postgres.TransactionSql) => {
        await tx`select set_config('statement_timeout', ${timeouts.statement_timeout}, true), set_config('lock_timeout', ${timeouts.lock_timeout}, true)`;
        return fn(tx);
      });
    };
  }
  return sql;
}
