import type { Sql } from "../db/sql.ts";
import type { ClaimedEvent } from "./types.ts";

export interface Failure {
  httpStatus: number | null;
  error: string;
  /** null = no retry left or permanent error: the event goes to `dead`. */
  retryInMs: number | null;
}

/** Records a failed attempt: back to `pending` at a later time, or `dead`. */
export async function failEvent(sql: Sql, event: ClaimedEvent, failure: Failure): Promise<boolean> {
  const dead = failure.retryInMs === null;
  const rows = await sql`
    update crm_events
    set state = ${dead ? "dead" : "pending"},
        next_attempt_at = now() + ${failure.retryInMs ?? 0} * interval '1 millisecond',
        locked_until = null,
        last_status = ${failure.httpStatus},
        last_error = ${failure.error.slice(0, 1000)},
        updated_at = now()
    where id = ${event.id} and claim_token = ${event.claimToken}
    returning id`;
  return rows.length === 1;
}
