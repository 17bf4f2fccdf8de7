/**
 * Puts dead events back in the queue with a fresh schedule. Their order is
 * kept: they still block the later events of their aggregate until delivered.
 */
import type { Sql } from "../db/sql.ts";

export async function retryEvent(sql: Sql, eventId: string): Promise<"queued" | "not_found" | "not_dead"> {
  const [row] = await sql<{ state: string }[]>`select state from crm_events where id = ${eventId}`;
  if (!row) return "not_found";
  if (row.state !== "dead") return "not_dead";
  await requeue(sql, sql`id = ${eventId}`);
  return "queued";
}

export async function retryAllDead(sql: Sql): Promise<number> {
  return await requeue(sql, sql`true`);
}

async function requeue(sql: Sql, where: ReturnType<Sql>): Promise<number> {
  const rows = await sql`
    update crm_events
    set state = 'pending', attempts = 0, next_attempt_at = now(), locked_until = null,
        claim_token = null, updated_at = now()
    where state = 'dead' and ${where}
    returning id`;
  return rows.length;
}
