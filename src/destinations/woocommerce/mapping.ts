/**
 * Pure functions from the CONTRACT §3 bodies to WooCommerce REST API v3
 * customer bodies (docs/destinations/woocommerce.md has the field table):
 * the customer is keyed by email; names and billing fields come from the
 * event (only non-empty values are sent, so nothing is blanked out); the
 * record's details go to one customer meta entry per record,
 * `lovable_lead_<id>` or `lovable_request_<id>`, whose value is a JSON string.
 * A call-back has no email and WooCommerce customers need one: it is not sent.
 */
import type { DeliveryEvent } from "../types.ts";

export interface Billing {
  first_name?: string;
  last_name?: string;
  company?: string;
  address_1?: string;
  city?: string;
  postcode?: string;
  email?: string;
  phone?: string;
}

export interface MetaEntry {
  key: string;
  value: string;
}

/** PUT /customers/<id>: the email is the key, it is never changed. */
export interface CustomerUpdate {
  first_name?: string;
  last_name?: string;
  billing: Billing;
  meta_data: MetaEntry[];
}

/** POST /customers. */
export interface CustomerCreate extends CustomerUpdate {
  email: string;
}

export type Plan =
  | { ok: true; email: string; create: CustomerCreate; update: CustomerUpdate; metaKey: string }
  | { ok: false; notApplicable: true; reason: string }
  | { ok: false; notApplicable?: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined && v !== "")) as T;
}

/** "Jean Dupont" → Jean / Dupont (split on the first space). */
export function splitName(full: string | null): { first: string | null; last: string | null } {
  if (!full) return { first: null, last: null };
  const space = full.indexOf(" ");
  return space === -1 ? { first: full, last: null } : { first: full.slice(0, space), last: full.slice(space + 1).trim() || null };
}

/** The meta value: the record's details as JSON, absent values left out. */
function metaValue(o: Record<string, unknown>): string {
  return JSON.stringify(compact(o));
}

export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  if (event.type === "callback.created") {
    return { ok: false, notApplicable: true, reason: "not applicable: a call-back has no email and WooCommerce customers require one; call-backs are not sent to WooCommerce (no call made)" };
  }
  const email = text(d.email);
  const phone = text(d.phone);
  if (event.type === "request.upserted") {
    const id = text(d.lovable_request_id);
    if (!id) return { ok: false, error: "request.upserted without lovable_request_id" };
    if (!email) return { ok: false, error: "request.upserted without email: the WooCommerce customer cannot be found or created" };
    const { first, last } = splitName(text(d.full_name));
    const metaKey = `lovable_request_${id}`;
    const meta = {
      key: metaKey,
      value: metaValue({
        type: "request", type_raccordement: d.type_raccordement, usage: d.usage, client_type: d.client_type, company_name: d.company_name,
        siren: d.siren, phase: d.phase, power_kva: d.power_kva, is_viabilise: d.is_viabilise, status: d.status, payment_status: d.payment_status,
        payment_intent_id: d.payment_intent_id, amount: d.amount, currency: d.currency,
      }),
    };
    const names = compact({ first_name: first ?? undefined, last_name: last ?? undefined });
    const billing = compact<Billing>({
      first_name: first ?? undefined, last_name: last ?? undefined, company: text(d.company_name) ?? undefined, address_1: text(d.address) ?? undefined,
      city: text(d.city) ?? undefined, postcode: text(d.zip_code) ?? undefined, email, phone: phone ?? undefined,
    });
    return { ok: true, email, metaKey, create: { email, ...names, billing, meta_data: [meta] }, update: { ...names, billing, meta_data: [meta] } };
  }
  const id = text(d.lovable_lead_id);
  if (!id) return { ok: false, error: "lead.upserted without lovable_lead_id" };
  if (!email) return { ok: false, error: "lead.upserted without email: the WooCommerce customer cannot be found or created" };
  const first = text(d.firstName);
  const last = text(d.lastName);
  const metaKey = `lovable_lead_${id}`;
  const meta = {
    key: metaKey,
    value: metaValue({
      type: "lead", service_type: d.serviceType, postal_code: d.postalCode, source: d.source,
      utm_source: d.utm_source, utm_medium: d.utm_medium, utm_campaign: d.utm_campaign,
    }),
  };
  const names = compact({ first_name: first ?? undefined, last_name: last ?? undefined });
  const billing = compact<Billing>({ first_name: first ?? undefined, last_name: last ?? undefined, postcode: text(d.postalCode) ?? undefined, email, phone: phone ?? undefined });
  return { ok: true, email, metaKey, create: { email, ...names, billing, meta_data: [meta] }, update: { ...names, billing, meta_data: [meta] } };
}
