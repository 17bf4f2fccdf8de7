/**
 * Pure functions from the CONTRACT §3 bodies to Pipedrive's request bodies
 * (docs/destinations/pipedrive.md has the field table):
 * - the person to find (email, or phone for a call-back) and to create when absent
 *   (POST /api/v2/persons: name, emails[], phones[]),
 * - the lead (POST/PATCH /v1/leads: title, person_id) of a lead or a call-back,
 * - the deal (POST/PATCH /api/v2/deals: title, person_id, status, value, currency,
 *   lost_reason) of a request, its status following `payment_status`.
 * Every lead and deal title ends with "[<lovable id>]": it is how a retry finds a
 * lead or deal that an interrupted attempt created but could not remember.
 */
import type { DeliveryEvent } from "../types.ts";

const NAME_MAX = 80;

export interface PersonKey {
  /** The search field of GET /api/v2/persons/search. */
  field: "email" | "phone";
  term: string;
}

export interface PersonBody {
  name: string;
  emails?: { value: string; primary: boolean; label: string }[];
  phones?: { value: string; primary: boolean; label: string }[];
}

export interface LeadBody {
  title: string;
  person_id: number;
}

export type DealStatus = "open" | "won" | "lost";

export interface DealBody {
  title: string;
  person_id: number;
  status: DealStatus;
  value?: number;
  currency?: string;
  lost_reason?: string;
}

/** What one event needs at Pipedrive, or why it cannot be sent. */
export type Plan =
  | { ok: true; key: PersonKey; person: PersonBody; object: "lead" | "deal"; ref: string; title: string }
  | { ok: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

function cut(name: string): string {
  return name.length <= NAME_MAX ? name : `${name.slice(0, NAME_MAX - 1)}…`;
}

function personBody(name: string, email: string | null, phone: string | null): PersonBody {
  const body: PersonBody = { name: cut(name) };
  if (email) body.emails = [{ value: email, primary: true, label: "work" }];
  if (phone) body.phones = [{ value: phone, primary: true, label: "mobile" }];
  return body;
}

/** The lead's or call-back's display name: first and last name, else the email or phone. */
function contactName(data: Record<string, unknown>, fallback: string): string {
  return [text(data.firstName), text(data.lastName)].filter(Boolean).join(" ") || fallback;
}

function place(zip: string | null, city: string | null): string {
  const where = [zip, city].filter(Boolean).join(" ");
  return where ? ` (${where})` : "";
}

/** What `event` becomes at Pipedrive. */
export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  const email = text(d.email);
  const phone = text(d.phone);
  if (event.type === "request.upserted") {
    const ref = text(d.lovable_request_id);
    if (!ref) return { ok: false, error: "request.upserted without lovable_request_id: nothing to key the Pipedrive deal on" };
    if (!email) return { ok: false, error: "request.upserted without email: the Pipedrive person cannot be found or created" };
    const name = text(d.full_name) ?? text(d.company_name) ?? email;
    const kind = text(d.type_raccordement) ?? "non-specifie";
    return {
      ok: true, key: { field: "email", term: email }, person: personBody(name, email, phone), object: "deal", ref,
      title: `Raccordement ${kind} — ${cut(name)}${place(text(d.zip_code), text(d.city))} [${ref}]`,
    };
  }
  const ref = text(d.lovable_lead_id);
  if (!ref) return { ok: false, error: `${event.type} without lovable_lead_id: nothing to key the Pipedrive lead on` };
  const postal = text(d.postalCode);
  if (event.type === "callback.created") {
    if (!phone) return { ok: false, error: "callback.created without phone: the Pipedrive person cannot be found or created" };
    const name = contactName(d, phone);
    return {
      ok: true, key: { field: "phone", term: phone }, person: personBody(name, email, phone), object: "lead", ref,
      title: `Rappel demandé — ${cut(name)}${place(postal, null)} [${ref}]`,
    };
  }
  if (!email) return { ok: false, error: "lead.upserted without email: the Pipedrive person cannot be found or created" };
  const name = contactName(d, email);
  const service = text(d.serviceType) ?? "non-specifie";
  return {
    ok: true, key: { field: "email", term: email }, person: personBody(name, email, phone), object: "lead", ref,
    title: `Lead ${service} — ${cut(name)}${place(postal, null)} [${ref}]`,
  };
}

export function leadBody(title: string, personId: number): LeadBody {
  return { title, person_id: personId };
}

/** Deal status from the payment: paid → won, refunded → lost, anything else stays open. */
export function dealStatus(paymentStatus: unknown): { status: DealStatus; lost_reason?: string } {
  if (paymentStatus === "paid") return { status: "won" };
  if (paymentStatus === "refunded") return { status: "lost", lost_reason: "Paiement remboursé" };
  return { status: "open" };
}

// Stripe's currencies without minor unit, and with three decimals (amounts are in minor units).
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/** An amount in minor units (Stripe) as Pipedrive's decimal `value`. */
export function majorUnits(amount: number, currency: string): number {
  const c = currency.toUpperCase();
  const digits = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return amount / 10 ** digits;
}

export function dealBody(data: Record<string, unknown>, title: string, personId: number): DealBody {
  const body: DealBody = { title, person_id: personId, ...dealStatus(data.payment_status) };
  if (typeof data.amount === "number" && Number.isFinite(data.amount) && typeof data.currency === "string" && data.currency) {
    body.value = majorUnits(data.amount, data.currency);
    body.currency = data.currency.toUpperCase();
  }
  return body;
}
