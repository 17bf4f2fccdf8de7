/**
 * CONTRACT §3 event bodies → HubSpot CRM v3 property maps (docs/destinations/hubspot.md,
 * "Field mapping"). HubSpot property values are strings; a null or absent
 * value is left out (never sent as "", which would clear what the CRM holds).
 */
import type { PaymentStatus } from "../../validation/enums.ts";

export type Properties = Record<string, string>;

/** The default sales pipeline's internal stage ids (HubSpot deals guide / pipelines API). */
export const DEFAULT_PIPELINE = "default";
export const DEFAULT_DEAL_STAGES: Readonly<Record<PaymentStatus, string>> = {
  pending: "appointmentscheduled",
  paid: "closedwon",
  failed: "closedlost",
  canceled: "closedlost",
  refunded: "closedlost",
};

/** The custom properties this destination writes (created once in the account: see the doc). */
export const CUSTOM_PROPERTIES = {
  contacts: ["lovable_lead_id", "lovable_source", "lovable_service_type", "lovable_utm_source", "lovable_utm_medium", "lovable_utm_campaign"],
  deals: ["lovable_request_id", "lovable_payment_status"],
} as const;

/** The property a call-back contact / a deal is found by before it is created. */
export const CALLBACK_KEY = "lovable_lead_id";
export const DEAL_KEY = "lovable_request_id";

/** Deal → contact, HubSpot-defined association type (associations v4 type ids). */
export const DEAL_TO_CONTACT = { associationCategory: "HUBSPOT_DEFINED", associationTypeId: 3 } as const;

// Stripe's zero-decimal currencies: their minor unit is the unit itself.
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);

const text = (v: unknown): string | undefined => {
  if (v === null || v === undefined) return undefined;
  const s = String(v).trim();
  return s === "" ? undefined : s;
};

function compact(entries: Array<[string, unknown]>): Properties {
  const out: Properties = {};
  for (const [k, v] of entries) {
    const s = text(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** "Jean de la Fontaine" → firstname "Jean", lastname "de la Fontaine" (CONTRACT §3's rule for call-backs). */
export function splitFullName(fullName: unknown): { firstname?: string; lastname?: string } {
  const name = text(fullName);
  if (!name) return {};
  const space = name.indexOf(" ");
  if (space === -1) return { firstname: name };
  return { firstname: name.slice(0, space), lastname: name.slice(space + 1).trim() || undefined };
}

/** lead.upserted and callback.created (the /leads body) → contact properties. */
export function leadContactProperties(d: Record<string, unknown>): Properties {
  return compact([
    ["email", typeof d.email === "string" ? d.email.toLowerCase() : d.email],
    ["firstname", d.firstName],
    ["lastname", d.lastName],
    ["phone", d.phone],
    ["zip", d.postalCode],
    ["lovable_lead_id", d.lovable_lead_id],
    ["lovable_source", d.source],
    ["lovable_service_type", d.serviceType],
    ["lovable_utm_source", d.utm_source],
    ["lovable_utm_medium", d.utm_medium],
    ["lovable_utm_campaign", d.utm_campaign],
  ]);
}

/** request.upserted (the /requests body) → the customer's contact properties. */
export function requestContactProperties(d: Record<string, unknown>): Properties {
  const { firstname, lastname } = splitFullName(d.full_name);
  return compact([
    ["email", typeof d.email === "string" ? d.email.toLowerCase() : d.email],
    ["firstname", firstname],
    ["lastname", lastname],
    ["phone", d.phone],
    ["company", d.company_name],
    ["address", d.address],
    ["city", d.city],
    ["zip", d.zip_code],
  ]);
}

/** Minor units (Stripe's `amount`) → HubSpot's `amount`, in currency units: 15000 EUR → "150.00". */
export function amountInUnits(amount: unknown, currency: unknown): string | undefined {
  if (typeof amount !== "number" || !Number.isFinite(amount)) return undefined;
  const code = typeof currency === "string" ? currency.toUpperCase() : "";
  return ZERO_DECIMAL.has(code) ? String(Math.round(amount)) : (amount / 100).toFixed(2);
}

export function dealStage(paymentStatus: unknown, stages: Readonly<Record<PaymentStatus, string>>): string {
  return stages[paymentStatus as PaymentStatus] ?? stages.pending;
}

const yesNo = (v: unknown) => (v === true ? "oui" : v === false ? "non" : undefined);

/** The request's details a salesperson reads on the deal (standard `description`, one line each). */
export function dealDescription(d: Record<string, unknown>): string {
  const address = [text(d.address), [text(d.zip_code), text(d.city)].filter(Boolean).join(" ")].filter(Boolean).join(", ");
  const lines: Array<[string, unknown]> = [
    ["Demande", d.lovable_request_id],
    ["Statut", d.status],
    ["Type de raccordement", d.type_raccordement],
    ["Usage", d.usage],
    ["Client", d.client_type],
    ["Société", d.company_name],
    ["SIREN", d.siren],
    ["Adresse", address],
    ["Phase", d.phase],
    ["Puissance (kVA)", d.power_kva],
    ["Terrain viabilisé", yesNo(d.is_viabilise)],
    ["Paiement", d.payment_status],
    ["PaymentIntent", d.payment_intent_id],
  ];
  return lines.flatMap(([label, v]) => (text(v) === undefined ? [] : [`${label}: ${text(v)}`])).join("\n");
}

/** request.upserted → deal properties; the stage follows `payment_status`. */
export function dealProperties(d: Record<string, unknown>, opts: { pipeline: string; stages: Readonly<Record<PaymentStatus, string>> }): Properties {
  const who = text(d.full_name) ?? text(d.company_name) ?? text(d.email) ?? "";
  return compact([
    ["dealname", `Raccordement ${text(d.type_raccordement) ?? "non-specifie"} – ${who}`.trim()],
    ["pipeline", opts.pipeline],
    ["dealstage", dealStage(d.payment_status, opts.stages)],
    ["amount", amountInUnits(d.amount, d.currency)],
    ["deal_currency_code", typeof d.currency === "string" ? d.currency.toUpperCase() : undefined],
    ["description", dealDescription(d)],
    ["lovable_request_id", d.lovable_request_id],
    ["lovable_payment_status", d.payment_status],
  ]);
}
