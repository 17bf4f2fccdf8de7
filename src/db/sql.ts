/**
 * One small postgres.js pool per isolate. `prepare: false` keeps it compatible
 * with Supavisor's transaction mode (port 6543) on Supabase.
 */
import postgres from "postgres";

export type Pool = postgres.Sql;
/** A pool or a transaction: queries run on either. */
export type Sql = Pool | postgres.TransactionSql;

export function createSql(url: string, max = 4): Pool {
  return postgres(url, {
    max,
    prepare: false,
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
}
