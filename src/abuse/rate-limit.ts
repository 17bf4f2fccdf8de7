/**
 * The rate-limit check as CTEs to put first in the form's own statement:
 *   with ${rateLimitGate(…)}, lead as (insert … where (select allowed from gate)) …
 * so counting the hit and writing the row cost one round trip together. (Postgres
 * wants data-modifying CTEs at the top level, hence a list and not a nested WITH.)
 * It defines `gate(allowed, retry_after)`.
 *
 * Two limits per function: one per client (its address, see client-ip.ts) and
 * one for all clients together (`<function>:*`), each 0 = off; a hit beyond
 * the client's own limit does not count against the global one. Keys are stored
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
  const client = limit.perMinute > 0;
  const global = limit.globalPerMinute > 0;
  if (!client && !global) return sql`gate as (select true as allowed, 0 as retry_after)`;
  // A hit the client's own limit refuses is not counted against everyone's:
  // one client flooding must not spend the global allowance.
  return sql`
    rl_now as (
      select date_bin('1 minute', now(), timestamptz 'epoch') as cur,
             extract(epoch from now() - date_bin('1 minute', now(), timestamptz 'epoch'))::float8 / 60 as elapsed
    ),
    rl_purge as (
      delete from rate_limit_buckets
      where ctid = any(array(
        select ctid from rate_limit_buckets
        where window_start < (select cur from rl_now) - interval '1 minute'
        limit ${PURGE_BATCH} for update skip locked))
    ),
    ${counter(sql, "rl_client", client ? `${limit.scope}:${limit.client}` : null, limit.perMinute, sql`true`)},
    ${counter(sql, "rl_global", global ? `${limit.scope}:*` : null, limit.globalPerMinute, sql`(select allowed from rl_client)`)},
    gate as (
      select c.allowed and g.allowed as allowed, greatest(c.retry_after, g.retry_after) as retry_after
      from rl_client c, rl_global g
    )`;
}

/**
 * `<name>_hit` counts one hit on `key` when `when` holds; `<name>(allowed,
 * retry_after)` judges it on the sliding-window estimate. No key: always allowed.
 */
function counter(sql: Sql, name: string, key: string | null, cap: number, when: ReturnType<Sql>) {
  if (key === null) return sql`${sql(name)} as (select true as allowed, 0 as retry_after)`;
  return sql`
    ${sql(`${name}_hit`)} as (
      insert into rate_limit_buckets (key, window_start, hits)
      select sha256(convert_to(${key}::text, 'UTF8')), cur, 1 from rl_now where ${when}
      on conflict (key, window_start) do update set hits = rate_limit_buckets.hits + 1
      returning key, hits
    ),
    ${sql(name)} as (
      select coalesce(bool_and(e.estimate <= ${cap}), true) as allowed,
             coalesce(max(case when e.estimate > ${cap} then
               -- Until the previous bucket's weight has fallen enough, or else the next bucket.
               ceil(least(60, greatest(1, case when e.previous > 0 and e.hits <= ${cap}
                                               then 60 * (e.estimate - ${cap}) / e.previous
                                               else (1 - e.elapsed) * 60 end)))
             end), 0)::int as retry_after
      from (
        select h.hits, coalesce(p.hits, 0) as previous, n.elapsed,
               h.hits + coalesce(p.hits, 0) * (1 - n.elapsed) as estimate
        from ${sql(`${name}_hit`)} h
        cross join rl_now n
        left join rate_limit_buckets p on p.key = h.key and p.window_start = n.cur - interval '1 minute'
      ) e
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
