/**
 * A request as the CRM sees it: the request with the contact details it was
 * submitted with (its own copy, never the customer row, which a later
 * submission with the same email rewrites) and its latest payment, read in one
 * query (optionally locking the request row).
 */
import type { RequestSnapshot } from "../crm/monelec-bodies.ts";
import type { Sql } from "./sql.ts";

interface SnapshotRow extends Omit<RequestSnapshot, "payment"> {
  payment_intent_id: string | null;
  amount: number | null;
  currency: string | null;
}

export async function loadRequestSnapshot(
  sql: Sql,
  requestId: string,
  opts: { lock?: boolean } = {},
): Promise<RequestSnapshot | null> {
  const [row] = await sql<SnapshotRow[]>`
    select r.id, r.email, r.phone, r.full_name, r.client_type, r.company_name, r.siren,
           r.type_raccordement, r.usage, r.address, r.city, r.zip_code, r.phase,
           r.power_kva::float8 as power_kva, r.is_viabilise, r.status, r.payment_status,
           p.stripe_payment_intent_id as payment_intent_id, p.amount, p.currency
    from requests r
    left join lateral (
      select * from payments where request_id = r.id order by created_at desc limit 1
    ) p on true
    where r.id = ${requestId}
    ${opts.lock ? sql`for update of r` : sql``}`;
  if (!row) return null;
  const { payment_intent_id, amount, currency, ...rest } = row;
  return {
    ...rest,
    payment: payment_intent_id ? { payment_intent_id, amount: amount!, currency: currency! } : null,
  };
}
