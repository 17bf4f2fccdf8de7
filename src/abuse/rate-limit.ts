/**
 * The rate-limit check as CTEs to put first in the form's own statement:
 *   with ${rateLimitGate(…)}, lead as (insert … where (select allowed from gate)) …
 * so counting the hit and writing the row cost one round trip together. (Postgres
 * wants data-modifying CTEs at the top level, hence a list and not a nested WITH.)
 * It defines `gate(allowed, retry_after)`. `perMinute = 0` turns the limit off.
 */
import type { Sql } from "../db/sql.ts";
import { HttpError } from "../http/http-error.ts";

export interface RateLimit {
  key: string;
  perMinute: number;
}

export function rateLimitGate(sql: Sql, limit: RateLimit) {
  if (limit.perMinute <= 0) return sql`gate as (select true as allowed, 0 as retry_after)`;
  return sql`
    rl_bucket as (
      select ${limit.key}::text as key, date_bin('1 minute', now(), timestamptz 'epoch') as window_start
    ),
    rl_stale as (
      delete from rate_limits r using rl_bucket b
      where r.key = b.key and r.window_start < b.window_start
    ),
    rl_hit as (
      insert into rate_limits (key, window_start, hits)
      select key, window_start, 1 from rl_bucket
      on conflict (key, window_start) do update set hits = rate_limits.hits + 1
      returning hits, window_start
    ),
    gate as (
      select hits <= ${limit.perMinute} as allowed,
             ceil(extract(epoch from window_start + interval '1 minute' - now()))::int as retry_after
      from rl_hit
    )`;
}

/** Throws the 429 when the gate said no; the business write did not happen. */
export function assertAllowed(gate: { allowed: boolean; retry_after: number }): void {
  if (gate.allowed) return;
  const seconds = Math.max(1, gate.retry_after);
  throw new HttpError(429, "rate_limited", `Too many requests; try again in ${seconds} s.`, undefined, {
    "retry-after": String(seconds),
  });
}
