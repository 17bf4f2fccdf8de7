/**
 * `crm forget <email|phone>`: erases a person (GDPR art. 17), in one transaction.
 * - Leads and call-backs with that email or phone: deleted.
 * - Customers with it, and their requests: a request never paid is deleted
 *   with its payments; a request with a captured payment (paid, refunded) is
 *   kept for the accounts (art. 17(3)(b): the legal duty to keep invoices),
 *   without its address, city, postal code and usage, and its customer is
 *   kept anonymised (email `erased-<id>@erased.invalid`, no phone, name,
 *   company or SIREN). Stripe keeps its own payment record.
 * - CRM events carrying that email or phone, or about an erased record: deleted
 *   with their deliveries (undelivered ones are never sent) and attempt logs;
 *   the erased records' remote ids too.
 * The report names the destinations that had received the person's data
 * (deliveries delivered, attempts made, remote ids), so the operator erases
 * it there as well. It carries no email or phone.
 */
import type { Pool } from "../db/sql.ts";
import { toE164 } from "../validation/normalize.ts";

export interface Subject {
  kind: "email" | "phone";
  value: string;
}

/** Normalises like the forms: email lower-case, phone E.164; a message when it is neither. */
export function parseSubject(input: string): Subject | { error: string } {
  const text = input.trim();
  if (text.includes("@")) {
    const email = text.toLowerCase();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) return { error: "that is not an email address" };
    return { kind: "email", value: email };
  }
  const phone = toE164(text);
  if (!phone) return { error: "that is neither an email address nor a valid phone number (French or E.164)" };
  return { kind: "phone", value: phone };
}

export interface ReceivedBy {
  destination: string;
  /** Deliveries the destination accepted. */
  delivered: number;
  /** Deliveries attempted but not (yet) accepted: the destination may hold part of the data. */
  attempted: number;
  /** Ids the destination gave the person's records (find them there with these). */
  remote_ids: Array<{ kind: string; remote_id: string }>;
}

export interface ForgetReport {
  kind: Subject["kind"];
  deleted: { leads: number; callbacks: number; customers: number; requests: number; payments: number;
    events: number; deliveries: number; attempts: number; remote_ids: number };
  anonymised: { customers: number; requests: number };
  received_by: ReceivedBy[];
}

export async function forget(sql: Pool, subject: Subject): Promise<ForgetReport> {
  const email = subject.kind === "email" ? subject.value : null;
  const phone = subject.kind === "phone" ? subject.value : null;
  return await sql.begin(async (tx) => {
    const ids = async (q: Promise<{ id: string }[]>) => (await q).map((r) => r.id);
    const leads = await ids(tx`select id from leads where email = ${email} or phone = ${phone} for update`);
    const callbacks = await ids(tx`select id from callbacks where phone = ${phone} for update`);
    const customers = await ids(tx`select id from customers where email = ${email} or phone = ${phone} for update`);
    const requests = await tx<{ id: string; captured: boolean }[]>`
      select r.id, exists (select 1 from payments p where p.request_id = r.id and p.status in ('paid', 'refunded')) as captured
      from requests r
      where r.customer_id in (select jsonb_array_elements_text(${tx.json(customers)})::uuid)
         or r.email = ${email} or r.phone = ${phone} -- a request keeps its own copy of the contact details
      for update of r`;
    const kept = requests.filter((r) => r.captured).map((r) => r.id);
    const dropped = requests.filter((r) => !r.captured).map((r) => r.id);
    const records = [...leads, ...callbacks, ...requests.map((r) => r.id)];

    const events = await ids(tx`
      select id from crm_events where data ->> 'email' = ${email}
      union select id from crm_events where data ->> 'phone' = ${phone}
      union select id from crm_events where record_id in (select jsonb_array_elements_text(${tx.json(records)})::uuid)`);
    const eventSet = tx.json(events);
    const received = await tx<{ destination: string; delivered: number; attempted: number }[]>`
      select destination, count(*) filter (where state = 'delivered')::int as delivered,
             count(*) filter (where state <> 'delivered' and attempts > 0)::int as attempted
      from crm_deliveries where event_id in (select jsonb_array_elements_text(${eventSet})::uuid)
      group by destination`;
    const remote = await tx<{ destination: string; kind: string; remote_id: string }[]>`
      delete from crm_remote_ids where record_id in (select jsonb_array_elements_text(${tx.json(records)})::uuid)
      returning destination, kind, remote_id`;
    await tx`delete from crm_pruned_records where record_id in (select jsonb_array_elements_text(${tx.json(records)})::uuid)`;
    const attempts = await tx`delete from crm_attempts where event_id in (select jsonb_array_elements_text(${eventSet})::uuid)`;
    const [{ n: deliveries }] = await tx<{ n: number }[]>`
      select count(*)::int as n from crm_deliveries where event_id in (select jsonb_array_elements_text(${eventSet})::uuid)`;
    const gone = await tx`delete from crm_events where id in (select jsonb_array_elements_text(${eventSet})::uuid)`;

    const payments = await tx`delete from payments where request_id in (select jsonb_array_elements_text(${tx.json(dropped)})::uuid)`;
    const reqGone = await tx`delete from requests where id in (select jsonb_array_elements_text(${tx.json(dropped)})::uuid)`;
    const reqAnon = await tx`
      update requests set usage = null, address = null, city = null, zip_code = null,
             email = null, phone = null, full_name = null, company_name = null, siren = null, updated_at = now()
      where id in (select jsonb_array_elements_text(${tx.json(kept)})::uuid)`;
    const custAnon = await tx`
      update customers c set email = 'erased-' || c.id || '@erased.invalid', phone = null, full_name = null,
             client_type = null, company_name = null, siren = null, updated_at = now()
      where c.id in (select jsonb_array_elements_text(${tx.json(customers)})::uuid)
        and exists (select 1 from requests r where r.customer_id = c.id)`;
    const custGone = await tx`
      delete from customers c where c.id in (select jsonb_array_elements_text(${tx.json(customers)})::uuid)
        and not exists (select 1 from requests r where r.customer_id = c.id)`;
    const leadGone = await tx`delete from leads where id in (select jsonb_array_elements_text(${tx.json(leads)})::uuid)`;
    const cbGone = await tx`delete from callbacks where id in (select jsonb_array_elements_text(${tx.json(callbacks)})::uuid)`;

    const names = [...new Set([...received.map((r) => r.destination), ...remote.map((r) => r.destination)])].sort();
    return {
      kind: subject.kind,
      deleted: { leads: leadGone.count, callbacks: cbGone.count, customers: custGone.count, requests: reqGone.count,
        payments: payments.count, events: gone.count, deliveries, attempts: attempts.count, remote_ids: remote.length },
      anonymised: { customers: custAnon.count, requests: reqAnon.count },
      received_by: names.map((destination) => {
        const r = received.find((x) => x.destination === destination);
        return {
          destination,
          delivered: r?.delivered ?? 0,
          attempted: r?.attempted ?? 0,
          remote_ids: remote.filter((x) => x.destination === destination).map(({ kind, remote_id }) => ({ kind, remote_id })),
        };
      }).filter((r) => r.delivered > 0 || r.attempted > 0 || r.remote_ids.length > 0),
    };
  });
}
