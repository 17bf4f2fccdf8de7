/**
 * Pure functions from the CONTRACT §3 bodies to Sellsy API v2 bodies
 * (docs/destinations/sellsy.md has the field table):
 * - a lead → an individual (particulier, type "prospect"), found by email;
 * - a call-back → a contact, found by mobile number (individuals cannot be
 *   searched by phone; contacts can);
 * - a request → an individual (particulier) or a company + its contact
 *   (professionnel / collectivité with a company name), and an opportunity whose
 *   status follows `payment_status` and whose name "Demande de raccordement
 *   [<lovable_request_id>]" never changes, so a retry can find it again.
 */
import type { DeliveryEvent } from "../types.ts";

export type OpportunityStatus = "open" | "won" | "lost" | "cancelled";

export interface PersonFields {
  last_name: string;
  first_name?: string;
  email?: string;
  mobile_number?: string;
}

export interface CompanyFields {
  type: "prospect";
  name: string;
  email: string;
  phone_number?: string;
  legal_france?: { siren: string };
  note: string;
}

export interface OpportunityFields {
  name: string;
  status: OpportunityStatus;
  amount?: string;
  note: string;
}

export type Plan =
  | { ok: true; kind: "lead"; email: string; individual: PersonFields & { note: string } }
  | { ok: true; kind: "callback"; mobile: string; contact: PersonFields & { note: string } }
  | { ok: true; kind: "request"; email: string; person: PersonFields; company: CompanyFields | null; opportunity: OpportunityFields }
  | { ok: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

/** A phone as +33… when it is a French national number; otherwise as given, spaces removed. */
export function phoneOf(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  let p = raw.replace(/[\s.\-()]/g, "");
  if (p.startsWith("00")) p = `+${p.slice(2)}`;
  if (/^0[1-9]\d{8}$/.test(p)) p = `+33${p.slice(1)}`;
  return /^\+?\d{6,15}$/.test(p) ? p : null;
}

function names(first: string | null, last: string | null, fallback: string): { first_name?: string; last_name: string } {
  // Sellsy requires last_name; a lone name becomes the last name.
  if (last) return { ...(first ? { first_name: first } : {}), last_name: last };
  if (first) return { last_name: first };
  return { last_name: fallback };
}

function split(full: string | null): { first: string | null; last: string | null } {
  if (!full) return { first: null, last: null };
  const at = full.indexOf(" ");
  return at < 0 ? { first: null, last: full } : { first: full.slice(0, at), last: full.slice(at + 1).trim() };
}

const line = (label: string, v: unknown) => (v === null || v === undefined || v === "" ? null : `${label} : ${String(v)}`);
const lines = (...xs: (string | null)[]) => xs.filter(Boolean).join("\n");

/** Opportunity status from the payment: paid → won, refunded → lost, canceled → cancelled, else open. */
export function opportunityStatus(paymentStatus: unknown): OpportunityStatus {
  if (paymentStatus === "paid") return "won";
  if (paymentStatus === "refunded") return "lost";
  if (paymentStatus === "canceled") return "cancelled";
  return "open";
}

const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);

/** Minor units (Stripe) → Sellsy's decimal string ("99.00"). */
export function amountOf(amount: unknown, currency: unknown): string | undefined {
  if (typeof amount !== "number" || !Number.isFinite(amount)) return undefined;
  const digits = typeof currency === "string" && ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  return (amount / 10 ** digits).toFixed(2);
}

export function opportunityName(ref: string): string {
  return `Demande de raccordement [${ref}]`;
}

export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  const email = text(d.email);
  const mobile = phoneOf(d.phone);
  if (event.type === "callback.created") {
    const ref = text(d.lovable_lead_id);
    if (!ref) return { ok: false, error: "callback.created without lovable_lead_id" };
    if (!mobile) return { ok: false, error: "callback.created without a usable phone: the Sellsy contact cannot be found or created" };
    return {
      ok: true, kind: "callback", mobile,
      contact: {
        ...names(text(d.firstName), text(d.lastName), mobile), mobile_number: mobile, ...(email ? { email } : {}),
        note: lines("Rappel demandé depuis le site", line("Code postal", d.postalCode), line("Source", d.source), line("Réf.", ref)),
      },
    };
  }
  if (event.type === "lead.upserted") {
    const ref = text(d.lovable_lead_id);
    if (!ref) return { ok: false, error: "lead.upserted without lovable_lead_id" };
    if (!email) return { ok: false, error: "lead.upserted without email: the Sellsy individual cannot be found or created" };
    return {
      ok: true, kind: "lead", email,
      individual: {
        ...names(text(d.firstName), text(d.lastName), email), email, ...(mobile ? { mobile_number: mobile } : {}),
        note: lines(
          "Lead du site de raccordement", line("Type de raccordement", d.serviceType), line("Code postal", d.postalCode),
          line("Source", d.source), line("UTM", [d.utm_source, d.utm_medium, d.utm_campaign].filter(Boolean).join(" / ") || null), line("Réf.", ref),
        ),
      },
    };
  }
  const ref = text(d.lovable_request_id);
  if (!ref) return { ok: false, error: "request.upserted without lovable_request_id: nothing to key the Sellsy opportunity on" };
  if (!email) return { ok: false, error: "request.upserted without email: the Sellsy individual or contact cannot be found or created" };
  const { first, last } = split(text(d.full_name));
  const companyName = text(d.company_name);
  const isCompany = companyName !== null && (d.client_type === "professionnel" || d.client_type === "collectivite");
  const siren = text(d.siren);
  const person: PersonFields = { ...names(first, last, email), email, ...(mobile ? { mobile_number: mobile } : {}) };
  const company: CompanyFields | null = isCompany
    ? {
      type: "prospect", name: companyName!, email, ...(mobile ? { phone_number: mobile } : {}),
      ...(siren && /^\d{9}$/.test(siren.replace(/\s/g, "")) ? { legal_france: { siren: siren.replace(/\s/g, "") } } : {}),
      note: lines("Client du site de raccordement", line("Type", d.client_type), line("SIREN", siren)),
    }
    : null;
  const amount = amountOf(d.amount, d.currency);
  return {
    ok: true, kind: "request", email, person, company,
    opportunity: {
      name: opportunityName(ref),
      status: opportunityStatus(d.payment_status),
      ...(amount !== undefined ? { amount } : {}),
      note: lines(
        line("Type de raccordement", d.type_raccordement), line("Usage", d.usage), line("Adresse", [d.address, d.zip_code, d.city].filter(Boolean).join(", ") || null),
        line("Phase", d.phase), line("Puissance (kVA)", d.power_kva), line("Viabilisé", d.is_viabilise === true ? "oui" : d.is_viabilise === false ? "non" : null),
        line("Statut", d.status), line("Paiement", d.payment_status), line("Montant", amount !== undefined ? `${amount} ${String(d.currency ?? "").toUpperCase()}` : null),
        line("PaymentIntent", d.payment_intent_id), line("Réf.", ref),
      ),
    },
  };
}
