/**
 * The bodies monelec.net receives (CONTRACT §3, the study's mapping). Absent
 * values are sent as null, never omitted.
 */
import type { ClientType, ConnectionType, PaymentStatus, Phase } from "../validation/enums.ts";

export const WEBSITE_SOURCE = "lovable-website";

export interface LeadFacts {
  id: string;
  email: string;
  phone?: string | null;
  firstname?: string | null;
  lastname?: string | null;
  connection_type?: ConnectionType | null;
  postal_code?: string | null;
  utm_source?: string | null;
  utm_medium?: string | null;
  utm_campaign?: string | null;
}

export interface CallbackFacts {
  id: string;
  full_name?: string | null;
  phone: string;
  postal_code?: string | null;
  source?: string | null;
}

/** A request as it stands now, with its customer and latest payment. */
export interface RequestSnapshot {
  id: string;
  email: string;
  phone: string | null;
  full_name: string | null;
  client_type: ClientType | null;
  company_name: string | null;
  siren: string | null;
  type_raccordement: ConnectionType;
  usage: string | null;
  address: string | null;
  city: string | null;
  zip_code: string | null;
  phase: Phase | null;
  power_kva: number | null;
  is_viabilise: boolean | null;
  status: string;
  payment_status: PaymentStatus;
  payment?: { payment_intent_id: string; amount: number; currency: string } | null;
}

const orNull = <T>(v: T | undefined | null): T | null => (v === undefined ? null : v);

export function leadBody(lead: LeadFacts) {
  return {
    email: lead.email,
    phone: orNull(lead.phone),
    firstName: orNull(lead.firstname),
    lastName: orNull(lead.lastname),
    serviceType: lead.connection_type ?? "non-specifie",
    postalCode: orNull(lead.postal_code),
    source: WEBSITE_SOURCE,
    lovable_lead_id: lead.id,
    utm_source: orNull(lead.utm_source),
    utm_medium: orNull(lead.utm_medium),
    utm_campaign: orNull(lead.utm_campaign),
  };
}

/** A call-back is a lead without email; its full name is split on the first space. */
export function callbackBody(cb: CallbackFacts) {
  const name = (cb.full_name ?? "").trim();
  const space = name.indexOf(" ");
  return {
    email: null,
    phone: cb.phone,
    firstName: name ? (space === -1 ? name : name.slice(0, space)) : null,
    lastName: space === -1 ? null : name.slice(space + 1).trim() || null,
    serviceType: "non-specifie",
    postalCode: orNull(cb.postal_code),
    source: cb.source ?? WEBSITE_SOURCE,
    lovable_lead_id: cb.id,
    utm_source: null,
    utm_medium: null,
    utm_campaign: null,
  };
}

export function requestBody(r: RequestSnapshot) {
  const body: Record<string, unknown> = {
    lovable_request_id: r.id,
    email: r.email,
    phone: r.phone,
    full_name: r.full_name,
    client_type: r.client_type,
    company_name: r.company_name,
    siren: r.siren,
    type_raccordement: r.type_raccordement,
    usage: r.usage,
    address: r.address,
    city: r.city,
    zip_code: r.zip_code,
    phase: r.phase,
    power_kva: r.power_kva,
    is_viabilise: r.is_viabilise,
    status: r.status,
    payment_status: r.payment_status,
  };
  if (r.payment) {
    body.payment_intent_id = r.payment.payment_intent_id;
    body.amount = r.payment.amount;
    body.currency = r.payment.currency;
  }
  return body;
}
