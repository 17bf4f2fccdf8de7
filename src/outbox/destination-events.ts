/**
 * What an attempt's outcome means for its whole destination: a vendor quota
 * spent until a known time, a destination that asked to be stopped (410), or
 * a run of server failures that opens the circuit. Rare statements, off the
 * happy path.
 */
import type { Sql } from "../db/sql.ts";

/** After this many server failures in a row the circuit opens. */
export const CIRCUIT_FAILURES = 5;
/**
 * How long it stays open before a probe: the retry schedule's first step
 * (within 1–30 s), doubling on each failed probe up to CIRCUIT_MAX_OPEN_MS.
 */
export const CIRCUIT_MAX_OPEN_MS = 60_000;
export const circuitOpenMs = (retryScheduleMs: number[]) => Math.min(30_000, Math.max(1_000, retryScheduleMs[0] ?? 5_000));

export async function throttleDestination(sql: Sql, name: string, untilMs: number, reason: string): Promise<void> {
  await sql`
    update crm_destinations set throttled_until = greatest(coalesce(throttled_until, now()), to_timestamp(${untilMs / 1000})),
           circuit_reason = coalesce(circuit_reason, ${reason}), updated_at = now()
    where name = ${name}`;
}

export async function pauseDestination(sql: Sql, name: string, reason: string, by: string): Promise<boolean> {
  const rows = await sql`
    insert into crm_destinations (name, paused_at, paused_reason, paused_by) values (${name}, now(), ${reason}, ${by})
    on conflict (name) do update set paused_at = coalesce(crm_destinations.paused_at, now()),
      paused_reason = excluded.paused_reason, paused_by = excluded.paused_by, updated_at = now()
    returning name`;
  return rows.length === 1;
}

export async function resumeDestination(sql: Sql, name: string): Promise<boolean> {
  const rows = await sql`
    update crm_destinations set paused_at = null, paused_reason = null, paused_by = null,
           circuit_open_until = null, circuit_reason = null, circuit_opened_at = null, throttled_until = null,
           updated_at = now()
    where name = ${name} returning name`;
  // What waited for the destination goes now.
  await sql`update crm_deliveries set next_attempt_at = now() where destination = ${name} and state = 'pending' and next_attempt_at > now()`;
  return rows.length === 1;
}

/**
 * Opens the circuit when the destination's last CIRCUIT_FAILURES attempts all
 * failed on the server side (no answer, timeout, 5xx); extends it after a
 * failed probe. Returns true when the circuit is (now) open.
 */
export async function noteServerFailure(sql: Sql, name: string, error: string, openMs: number): Promise<boolean> {
  const rows = await sql<{ open: boolean }[]>`
    update crm_destinations set
      circuit_open_until = now() + least(
        ${CIRCUIT_MAX_OPEN_MS}::float8,
        case when circuit_opened_at is null then ${openMs}::float8
             else greatest(${openMs}::float8, 2 * extract(epoch from now() - circuit_opened_at) * 1000) end
      ) * interval '1 millisecond',
      circuit_opened_at = coalesce(circuit_opened_at, now()),
      circuit_reason = ${error.slice(0, 300)},
      updated_at = now()
    where name = ${name}
      and (circuit_open_until is null or circuit_open_until <= now())
      and (select count(*) from (
            select 1 from crm_attempts a where a.destination = ${name}
            order by a.id desc limit ${CIRCUIT_FAILURES}) last
          ) = ${CIRCUIT_FAILURES}
      and not exists (
            select 1 from (select outcome, http_status from crm_attempts a where a.destination = ${name}
                           order by a.id desc limit ${CIRCUIT_FAILURES}) last
            where not (last.outcome in ('retry', 'dead') and (last.http_status is null or last.http_status >= 500)))
    returning true as open`;
  return rows.length === 1;
}
