/**
 * The console's search box: a record id (or an event id), or an EXACT email
 * or phone number, looked up in leads, customers (→ their requests) and
 * call-backs. Returns the record ids it stands for; [] when nothing matches.
 */
import type { Sql } from "../db/sql.ts";
import { toE164 } from "../validation/normalize.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function resolveSearch(sql: Sql, query: string): Promise<string[]> {
  const q = query.trim();
  if (UUID.test(q)) {
    const rows = await sql<{ record_id: string }[]>`select record_id from crm_events where id = ${q}::uuid`;
    return [...new Set([q.toLowerCase(), ...rows.map((r) => r.record_id)])];
  }
  if (q.includes("@")) {
    const email = q.toLowerCase();
    const rows = await sql<{ id: string }[]>`
      select id from leads where email = ${email}
      union select r.id from requests r join customers c on c.id = r.customer_id where c.email = ${email}`;
    return rows.map((r) => r.id);
  }
  const phone = toE164(q);
  if (!phone) return [];
  const rows = await sql<{ id: string }[]>`
    select id from leads where phone = ${phone}
    union select id from callbacks where phone = ${phone}
    union select r.id from requests r join customers c on c.id = r.customer_id where c.phone = ${phone}`;
  return rows.map((r) => r.id);
}
