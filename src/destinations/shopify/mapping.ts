/**
 * Pure functions from the CONTRACT §3 bodies to Shopify Admin GraphQL inputs
 * (docs/destinations/shopify.md has the field table):
 * - the identifier the customer is looked up by (`customerByIdentifier`):
 *   the email, or the phone (E.164) for a call-back;
 * - the `CustomerInput` of `customerCreate` / `customerUpdate`: email, phone,
 *   firstName, lastName, and one `json` metafield per record
 *   (namespace `lovable`, key `lead-<id>` / `callback-<id>` / `request-<id>`)
 *   holding the record's details; tags only on creation, because Shopify's
 *   `tags` on an update overwrites the merchant's own tags.
 */
import type { DeliveryEvent } from "../types.ts";

export const METAFIELD_NAMESPACE = "lovable";
/** Shopify's tag limit is 255 characters; ours are short and fixed. */
export const TAGS: Record<"lead" | "callback" | "request", string[]> = {
  lead: ["lovable", "lead-raccordement"],
  callback: ["lovable", "rappel-demande"],
  request: ["lovable", "demande-raccordement"],
};

export interface MetafieldInput {
  namespace: string;
  key: string;
  type: "json";
  value: string;
}

export interface CustomerInput {
  id?: string;
  email?: string;
  phone?: string;
  firstName?: string;
  lastName?: string;
  tags?: string[];
  metafields?: MetafieldInput[];
}

export type Identifier = { emailAddress: string } | { phoneNumber: string };

export type Plan =
  | { ok: true; identifier: Identifier; input: CustomerInput; tags: string[] }
  | { ok: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

/**
 * A phone as E.164, as Shopify requires it ("+33612345678"): French national
 * numbers (0X XX XX XX XX) get +33; spaces, dots, dashes and brackets go.
 * Null when it cannot be made E.164.
 */
export function e164(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  let p = raw.replace(/[\s.\-()]/g, "");
  if (p.startsWith("00")) p = `+${p.slice(2)}`;
  if (/^0[1-9]\d{8}$/.test(p)) p = `+33${p.slice(1)}`;
  return /^\+[1-9]\d{6,14}$/.test(p) ? p : null;
}

/** "Ana Lopez Garcia" → first "Ana", last "Lopez Garcia" (CONTRACT §3's split). */
export function splitName(full: unknown): { firstName?: string; lastName?: string } {
  const name = text(full);
  if (!name) return {};
  const at = name.indexOf(" ");
  return at < 0 ? { firstName: name } : { firstName: name.slice(0, at), lastName: name.slice(at + 1).trim() };
}

function pick(data: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (data[k] !== undefined && data[k] !== null) out[k] = data[k];
  return out;
}

const LEAD_DETAILS = ["lovable_lead_id", "serviceType", "postalCode", "source", "utm_source", "utm_medium", "utm_campaign"];
const REQUEST_DETAILS = [
  "lovable_request_id", "client_type", "company_name", "siren", "type_raccordement", "usage", "address", "city", "zip_code",
  "phase", "power_kva", "is_viabilise", "status", "payment_status", "payment_intent_id", "amount", "currency",
];

/** Metafield keys: 2–64 characters of letters, digits, "-" and "_" (a UUID fits). */
function metafieldKey(prefix: string, ref: string): string | null {
  const key = `${prefix}-${ref}`;
  return /^[A-Za-z0-9_-]{2,64}$/.test(key) ? key : null;
}

/** What `event` becomes at Shopify, or why it cannot be sent. */
export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  const email = text(d.email);
  const phone = e164(d.phone);
  const kind = event.type === "request.upserted" ? "request" : event.type === "callback.created" ? "callback" : "lead";
  const ref = text(kind === "request" ? d.lovable_request_id : d.lovable_lead_id);
  if (!ref) return { ok: false, error: `${event.type} without ${kind === "request" ? "lovable_request_id" : "lovable_lead_id"}: nothing to key the Shopify metafield on` };
  const key = metafieldKey(kind, ref);
  if (!key) return { ok: false, error: `${event.type}: the record id "${ref.slice(0, 80)}" cannot be a Shopify metafield key (2–64 letters, digits, - or _)` };

  const names = kind === "request"
    ? splitName(d.full_name)
    : { ...(text(d.firstName) ? { firstName: text(d.firstName)! } : {}), ...(text(d.lastName) ? { lastName: text(d.lastName)! } : {}) };
  const details = pick(d, kind === "request" ? REQUEST_DETAILS : LEAD_DETAILS);

  let identifier: Identifier;
  if (kind === "callback") {
    if (!phone) return { ok: false, error: `callback.created without a phone Shopify accepts (E.164): ${text(d.phone) ? "the phone is malformed" : "no phone"}` };
    identifier = { phoneNumber: phone };
  } else {
    if (!email) return { ok: false, error: `${event.type} without email: the Shopify customer cannot be found or created` };
    identifier = { emailAddress: email };
  }

  const input: CustomerInput = {
    ...(email ? { email } : {}),
    ...(phone ? { phone } : {}),
    ...names,
    metafields: [{ namespace: METAFIELD_NAMESPACE, key, type: "json", value: JSON.stringify(details) }],
  };
  return { ok: true, identifier, input, tags: TAGS[kind] };
}
