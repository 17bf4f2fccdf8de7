import type { Sql } from "../db/sql.ts";
import type { ClaimedEvent } from "./types.ts";

/** Marks a claimed event delivered. False when the lease was lost to another deliverer. */
export async function completeEvent(sql: Sql, event: ClaimedEvent, httpStatus: number): Promise<boolean> {
  const rows = await sql`
    update crm_events
    set state = 'delivered', delivered_at = now(), locked_until = null,
        last_status = ${httpStatus}, last_error = null, updated_at = now()
    where id = ${event.id} and claim_token = ${event.claimToken}
    returning id`;
  return rows.length === 1;
}
