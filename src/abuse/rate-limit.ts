/**
 * The rate-limit check as CTEs to put first in the form's own statement:
 *   with ${rateLimitGate(…)}, lead as (insert … where (select allowed from gate)) …
 * so counting the hit and writing the row cost one round trip together. (Postgres
 * wants data-modifying CTEs at the top level, hence a list and not a nested WITH.)
 * It defines `gate(allowed, retry_after)`.
 *
 * Two limits per function: one per client (its address, see client-ip.ts) and
 * one for all clients together (`<function>:*`), each 0 = off. Keys are stored
 * as SHA-256 digests, so their size is fixed whatever a header carried. Hits
 * are counted in one-minute buckets and judged on a sliding-window estimate,
 * current bucket + previous bucket × the part of it still inside the last
 * minute, so a client cannot fit two limits' worth around a bucket boundary.
 * Every hit also deletes a few buckets that have left the window (anyone's).
 */
import type { Sql } from "../db/sql.ts";
import { HttpError } from "../http/http-error.ts";

export interface RateLimit {
  /** The function (or other scope) the limits count for. */
  scope: string;
  /** The client's identity (clientIp()). */
  client: string;
  perMinute: number;
  globalPerMinute: number;
}

/** Buckets deleted per hit: enough to outpace the buckets hits create. */
const PURGE_BATCH = 20;

export function rateLimitGate(sql: Sql, limit: RateLimit) {
  const keys = [
    { key: `${limit.scope}:${limit.client}`, cap: limit.perMinute },
    { key: `${limit.scope}:*`, cap: limit.globalPerMinute },
  ].filter((k) => k.cap > 0);
  if (keys.length === 0) return sql`gate as (select true as allowed, 0 as retry_after)`;
  return sql`
    rl_now as (
      select date_bin('1 minute', now(), timestamptz 'epoch') as cur,
             extract(epoch from now() - date_bin('1 minute', now(), timestamptz 'epoch'))::float8 / 60 as elapsed
    ),
    rl_keys as (
      select sha256(convert_to(k, 'UTF8')) as key, cap
      from unnest(${keys.map((k) => k.key)}::text[], ${keys.map((k) => k.cap)}::int[]) as t(k, cap)
    ),
    rl_purge as (
      delete from rate_limit_buckets
      where ctid = any(array(
        select ctid from rate_limit_buckets
        where window_start < (select cur from rl_now) - interval '1 minute'
        limit ${PURGE_BATCH} for update skip locked))
    ),
    rl_hit as (
      insert into rate_limit_buckets (key, window_start, hits)
      select key, cur, 1 from rl_keys, rl_now
      on conflict (key, window_start) do update set hits = rate_limit_buckets.hits + 1
      returning key, hits
    ),
    rl_estimate as (
      select k.cap, h.hits, coalesce(p.hits, 0) as previous, n.elapsed,
             h.hits + coalesce(p.hits, 0) * (1 - n.elapsed) as estimate
      from rl_keys k
      join rl_hit h on h.key = k.key
      cross join rl_now n
      left join rate_limit_buckets p on p.key = k.key and p.window_start = n.cur - interval '1 minute'
    ),
    gate as (
      select coalesce(bool_and(estimate <= cap), true) as allowed,
             coalesce(max(case when estimate > cap then
               -- Until the previous bucket's weight has fallen enough, or else the next bucket.
               ceil(least(60, greatest(1, case when previous > 0 and hits <= cap
                                               then 60 * (estimate - cap) / previous
                                               else (1 - elapsed) * 60 end)))
             end), 0)::int as retry_after
      from rl_estimate
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

/** The two limits of `scope` for this client, from the configuration. */
export function limitsFor(
  config: { rateLimitPerMinute: number; rateLimitGlobalPerMinute: number },
  scope: string,
  client: string,
): RateLimit {
  return { scope, client, perMinute: config.rateLimitPerMinute, globalPerMinute: config.rateLimitGlobalPerMinute };
}
