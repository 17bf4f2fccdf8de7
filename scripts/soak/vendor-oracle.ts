/**
 * What a vendor destination should hold, read from its double's state() —
 * written from each vendor's documented objects and the mapping tables in
 * docs/destinations/<name>.md, not from the mapping code. A vendor keeps
 * state, not history, so per record:
 * - lost: the record has no remote object at the vendor (its final snapshot never arrived);
 * - duplicate: more than one person/contact/deal/lead/ticket/opportunity stands for it;
 * - out of date: the remote object does not show the record's newest snapshot
 *   (for a request: its payment status, the field that changes over its life).
 * Destinations that do not receive a kind of record (WooCommerce call-backs,
 * Sellsy has no deal for a lead) are simply not asked about it.
 */

export interface RecordTruth {
  type: "lead" | "callback" | "request";
  id: string;
  /** From the record's newest snapshot. */
  email: string | null;
  phone: string | null;
  paymentStatus: string | null;
}

export interface VendorVerdict {
  records: number;
  lost: string[];
  duplicates: string[];
  outOfDate: string[];
  /**
   * Emails for which the vendor holds more than one person/contact/customer:
   * two records of one person (a lead and its request) delivered at the same
   * moment can each find no one and create one. Per record there is still one.
   */
  samePersonTwice: string[];
}

/** Brevo deal stages the soak maps (the double's pipeline): BREVO_DEAL_STAGES below. */
export const BREVO_SOAK_STAGES = { pending: "new", failed: "new", paid: "won", canceled: "lost", refunded: "lost" } as const;

/**
 * One record at one vendor: how many remote objects stand for it, by kind
 * (each kind must be exactly 1), and whether the newest snapshot shows
 * (null: nothing to compare). undefined: the vendor does not receive it.
 */
type Check = { counts: number[]; current: boolean | null; people?: number } | undefined;
type State = Record<string, any[]>;

const lower = (v: string | null) => (v ?? "").toLowerCase();
const tagged = (text: unknown, id: string) => typeof text === "string" && text.includes(`[${id}]`);
const parse = (v: unknown): Record<string, unknown> => {
  if (typeof v !== "string") return (v ?? {}) as Record<string, unknown>;
  try {
    return JSON.parse(v);
  } catch {
    return {};
  }
};

const CHECKS: Record<string, (s: State, r: RecordTruth, brevoStages: Record<string, string>) => Check> = {
  // HubSpot: contacts unique by email; a call-back's contact by lovable_lead_id; a request's deal by lovable_request_id.
  hubspot(s, r) {
    const contacts = (s.contacts ?? []) as { properties: Record<string, string> }[];
    const deals = (s.deals ?? []) as { properties: Record<string, string> }[];
    const people = contacts.filter((c) => c.properties.email === lower(r.email)).length;
    if (r.type === "lead") return { counts: [], people, current: null };
    if (r.type === "callback") return { counts: [contacts.filter((c) => c.properties.lovable_lead_id === r.id).length], current: null };
    const mine = deals.filter((d) => d.properties.lovable_request_id === r.id);
    return { counts: [mine.length], people, current: mine.length === 1 ? mine[0].properties.lovable_payment_status === r.paymentStatus : null };
  },
  // Brevo: contacts unique by email (a call-back finds its contact by phone, SMS); deals named "… [<request id>]".
  brevo(s, r, stages) {
    const contacts = (s.contacts ?? []) as { email: string | null; attributes: Record<string, unknown> }[];
    const deals = (s.deals ?? []) as { attributes: Record<string, unknown> }[];
    const people = contacts.filter((c) => lower(c.email) === lower(r.email)).length;
    if (r.type === "lead") return { counts: [], people, current: null };
    if (r.type === "callback") return { counts: [contacts.filter((c) => c.attributes.SMS === r.phone).length], current: null };
    const mine = deals.filter((d) => tagged(d.attributes.deal_name, r.id));
    const want = r.paymentStatus ? stages[r.paymentStatus] : undefined;
    return { counts: [mine.length], people, current: mine.length === 1 && want ? mine[0].attributes.deal_stage === want : null };
  },
  // Pipedrive: one person per email; leads and deals titled "… [<id>]"; deal status from the payment.
  pipedrive(s, r) {
    const persons = (s.persons ?? []) as { emails: { value: string }[]; is_deleted: boolean }[];
    const leads = ((s.leads ?? []) as { title: string; is_archived: boolean }[]).filter((l) => !l.is_archived);
    const deals = ((s.deals ?? []) as { title: string; status: string; is_deleted: boolean }[]).filter((d) => !d.is_deleted);
    const people = r.email ? persons.filter((p) => !p.is_deleted && p.emails.some((e) => lower(e.value) === lower(r.email))).length : undefined;
    if (r.type !== "request") return { counts: [leads.filter((l) => tagged(l.title, r.id)).length], people, current: null };
    const mine = deals.filter((d) => tagged(d.title, r.id));
    const want = r.paymentStatus === "paid" ? "won" : r.paymentStatus === "refunded" ? "lost" : "open";
    return { counts: [mine.length], people, current: mine.length === 1 ? mine[0].status === want : null };
  },
  // Salesforce: Leads and Opportunities upserted by the external id Lovable_Id__c.
  salesforce(s, r) {
    const byId = (list: { fields: Record<string, unknown> }[]) => (list ?? []).filter((x) => x.fields.Lovable_Id__c === r.id);
    const leads = byId(s.leads as never);
    if (r.type !== "request") return { counts: [leads.length], current: null };
    const opps = byId(s.opportunities as never);
    const want = r.paymentStatus === "paid" ? "Closed Won" : r.paymentStatus === "canceled" || r.paymentStatus === "refunded" ? "Closed Lost" : "Prospecting";
    return { counts: [leads.length, opps.length], current: opps.length === 1 ? opps[0].fields.StageName === want : null };
  },
  // Odoo: one crm.lead per record, named "… [<id>]" (archived ones count: a refund archives it); its description lists the payment status.
  odoo(s, r) {
    const leads = ((s.leads ?? []) as { name: string; description: string | false }[]).filter((l) => l.name.endsWith(`[${r.id}]`));
    const partners = (s.partners ?? []) as { email: string | false }[];
    const people = r.email ? partners.filter((p) => lower(p.email || null) === lower(r.email)).length : undefined;
    if (r.type !== "request") return { counts: [leads.length], people, current: null };
    const current = leads.length === 1 ? new RegExp(`Statut du paiement : ${r.paymentStatus}<`).test(String(leads[0].description)) : null;
    return { counts: [leads.length], people, current };
  },
  // Zendesk: users unique by email (leads and requests); a call-back is a ticket (and its user) with external_id lovable-callback-<id>.
  zendesk(s, r) {
    const users = (s.users ?? []) as { email: string | null; external_id: string | null; notes: string | null }[];
    const tickets = (s.tickets ?? []) as { external_id: string | null }[];
    if (r.type === "callback") {
      const ext = `lovable-callback-${r.id}`;
      return { counts: [users.filter((u) => u.external_id === ext).length, tickets.filter((t) => t.external_id === ext).length], current: null };
    }
    const mine = users.filter((u) => lower(u.email) === lower(r.email));
    // The user's notes show whichever of its lead and request came last: compared only when they are this request's.
    const notes = mine.length === 1 ? mine[0].notes ?? "" : "";
    const current = r.type === "request" && notes.includes(`(lovable ${r.id})`) ? notes.includes(`Paiement: ${r.paymentStatus}`) : null;
    return { counts: [], people: mine.length, current };
  },
  // WooCommerce: customers unique by email, the record in the meta entry lovable_<type>_<id>; call-backs are not sent.
  woocommerce(s, r) {
    if (r.type === "callback") return undefined;
    const users = (s.users ?? []) as { email: string; meta_data: { key: string; value: unknown }[] }[];
    const key = `lovable_${r.type}_${r.id}`;
    const metas = users.flatMap((u) => u.meta_data.filter((m) => m.key === key));
    const people = users.filter((u) => lower(u.email) === lower(r.email)).length;
    const current = r.type === "request" && metas.length === 1 ? parse(metas[0].value).payment_status === r.paymentStatus : null;
    return { counts: [metas.length], people, current };
  },
  // Shopify: customers unique by email or phone; the record in the metafield lovable.<type>-<id>.
  shopify(s, r) {
    const customers = (s.customers ?? []) as { metafields: { namespace: string; key: string; value: string }[] }[];
    const key = `${r.type}-${r.id}`;
    const metas = customers.flatMap((c) => c.metafields.filter((m) => m.namespace === "lovable" && m.key === key));
    const holders = customers.filter((c) => c.metafields.some((m) => m.namespace === "lovable" && m.key === key)).length;
    const current = r.type === "request" && metas.length === 1 ? parse(metas[0].value).payment_status === r.paymentStatus : null;
    return { counts: [holders, metas.length], current };
  },
  // Sellsy: a lead is an individual (by email), a call-back a contact (by mobile number), a request an opportunity "Demande de raccordement [<id>]".
  sellsy(s, r) {
    const individuals = (s.individuals ?? []) as { email: string | null }[];
    const contacts = (s.contacts ?? []) as { mobile_number: string | null }[];
    const opps = (s.opportunities ?? []) as { name: string; status: string }[];
    if (r.type === "lead") return { counts: [], people: individuals.filter((i) => lower(i.email) === lower(r.email)).length, current: null };
    if (r.type === "callback") return { counts: [contacts.filter((c) => c.mobile_number === r.phone).length], current: null };
    const mine = opps.filter((o) => o.name === `Demande de raccordement [${r.id}]`);
    const want = r.paymentStatus === "paid" ? "won" : r.paymentStatus === "refunded" ? "lost" : r.paymentStatus === "canceled" ? "cancelled" : "open";
    const people = individuals.filter((i) => lower(i.email) === lower(r.email)).length;
    return { counts: [mine.length], people, current: mine.length === 1 ? mine[0].status === want : null };
  },
};

export const VENDORS_CHECKED = Object.keys(CHECKS);

export function checkVendor(name: string, state: State, records: RecordTruth[], brevoStageIds: Record<string, string> = {}): VendorVerdict {
  const check = CHECKS[name];
  if (!check) throw new Error(`no oracle for destination ${name}`);
  const verdict: VendorVerdict = { records: 0, lost: [], duplicates: [], outOfDate: [], samePersonTwice: [] };
  for (const r of records) {
    const c = check(state, r, brevoStageIds);
    if (!c) continue;
    verdict.records++;
    if (c.people !== undefined && c.people > 1 && !verdict.samePersonTwice.includes(lower(r.email))) verdict.samePersonTwice.push(lower(r.email));
    if (c.counts.some((n) => n === 0) || c.people === 0) verdict.lost.push(`${r.type} ${r.id}`);
    else if (c.counts.some((n) => n > 1)) verdict.duplicates.push(`${r.type} ${r.id}`);
    else if (c.current === false) verdict.outOfDate.push(`${r.type} ${r.id}`);
  }
  return verdict;
}
