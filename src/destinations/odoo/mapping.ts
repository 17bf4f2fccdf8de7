/**
 * Pure functions from the CONTRACT §3 bodies to Odoo values
 * (docs/destinations/odoo.md has the field table):
 * - the partner to find (`res.partner` by email, by phone for a call-back) and
 *   the values to create it with (name, email, phone, address);
 * - the one `crm.lead` of each record: a lead or a call-back becomes a crm.lead
 *   whose `type` Odoo chooses (a "lead" when the database uses leads, else an
 *   opportunity), a request an "opportunity" whose expected revenue and
 *   won/lost state follow the payment;
 * - the reference that finds that crm.lead again: its name ends with
 *   "[<lovable id>]" and its description carries "<kind>:<lovable id>".
 */
import type { DeliveryEvent } from "../types.ts";

const NAME_MAX = 120;

/** A domain leaf or operator of Odoo's search domains. */
export type DomainTerm = "|" | "&" | "!" | [string, string, unknown];

export type PartnerVals = Record<string, string | boolean>;
export type LeadVals = Record<string, string | number | boolean>;

/** What the payment asks of the crm.lead after its values are written. */
export type Outcome = "won" | "lost" | null;

export type Plan =
  | {
    ok: true;
    /** The search domain of the partner (exact email, case-insensitive; or exact phone). */
    partnerDomain: DomainTerm[];
    partner: PartnerVals;
    /** The lovable id and its kind, e.g. "lovable-request:<uuid>". */
    ref: string;
    marker: string;
    /** crm.lead values without partner_id (added once the partner is known). */
    lead: LeadVals;
    outcome: Outcome;
  }
  | { ok: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

function cut(name: string): string {
  return name.length <= NAME_MAX ? name : `${name.slice(0, NAME_MAX - 1)}…`;
}

/**
 * A value for Odoo's `=ilike` (a LIKE pattern, case-insensitive): `%`, `_` and
 * the escape character `\` are escaped so the match is exact.
 */
export function exactLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const escapeHtml = (v: string) =>
  v.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** An HTML description: the marker first, then one line per known value. */
function description(marker: string, rows: [string, unknown][]): string {
  const items = rows
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `<li>${escapeHtml(k)} : ${escapeHtml(typeof v === "boolean" ? (v ? "oui" : "non") : String(v))}</li>`);
  return `<p>Référence site : ${escapeHtml(marker)}</p>${items.length ? `<ul>${items.join("")}</ul>` : ""}`;
}

function place(zip: string | null, city: string | null): string {
  const where = [zip, city].filter(Boolean).join(" ");
  return where ? ` (${where})` : "";
}

function put(vals: Record<string, string | number | boolean>, key: string, value: string | number | boolean | null) {
  if (value !== null) vals[key] = value;
}

// Stripe's currencies without minor unit, and with three decimals (amounts are in minor units).
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/** An amount in minor units (Stripe) in major units, as Odoo's monetary fields hold it. */
export function majorUnits(amount: number, currency: string): number {
  const c = currency.toUpperCase();
  const digits = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return amount / 10 ** digits;
}

/** paid → won (action_set_won), refunded → lost (action_set_lost); anything else leaves the stage alone. */
export function outcomeOf(paymentStatus: unknown): Outcome {
  if (paymentStatus === "paid") return "won";
  if (paymentStatus === "refunded") return "lost";
  return null;
}

/** The name shown for a lead or call-back: first and last name, else the fallback. */
function contactName(d: Record<string, unknown>, fallback: string): string {
  return [text(d.firstName), text(d.lastName)].filter(Boolean).join(" ") || fallback;
}

function partnerDomainOf(email: string | null, phone: string): DomainTerm[] {
  return email ? [["email", "=ilike", exactLike(email)]] : [["phone", "=", phone]];
}

/** What `event` becomes in Odoo. */
export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  const email = text(d.email);
  const phone = text(d.phone);

  if (event.type === "request.upserted") {
    const id = text(d.lovable_request_id);
    if (!id) return { ok: false, error: "request.upserted without lovable_request_id: nothing to key the Odoo crm.lead on" };
    if (!email) return { ok: false, error: "request.upserted without email: the Odoo partner cannot be found or created" };
    const name = text(d.full_name) ?? text(d.company_name) ?? email;
    const kind = text(d.type_raccordement) ?? "non-specifie";
    const marker = `lovable-request:${id}`;
    const partner: PartnerVals = { name: cut(name), email };
    put(partner, "phone", phone);
    put(partner, "street", text(d.address));
    put(partner, "zip", text(d.zip_code));
    put(partner, "city", text(d.city));
    put(partner, "company_name", text(d.company_name));

    const lead: LeadVals = {
      name: `Raccordement ${kind} — ${cut(name)}${place(text(d.zip_code), text(d.city))} [${id}]`,
      type: "opportunity",
      contact_name: cut(name),
      email_from: email,
      description: description(marker, [
        ["Type de client", d.client_type], ["Société", d.company_name], ["SIREN", d.siren],
        ["Type de raccordement", d.type_raccordement], ["Usage", d.usage], ["Adresse", d.address],
        ["Code postal", d.zip_code], ["Ville", d.city], ["Phase", d.phase], ["Puissance (kVA)", d.power_kva],
        ["Terrain viabilisé", d.is_viabilise], ["Statut de la demande", d.status], ["Statut du paiement", d.payment_status],
        ["Paiement", d.payment_intent_id],
        ["Montant", typeof d.amount === "number" && typeof d.currency === "string" ? `${majorUnits(d.amount, d.currency)} ${d.currency.toUpperCase()}` : null],
      ]),
    };
    put(lead, "phone", phone);
    put(lead, "partner_name", text(d.company_name));
    put(lead, "street", text(d.address));
    put(lead, "zip", text(d.zip_code));
    put(lead, "city", text(d.city));
    if (typeof d.amount === "number" && Number.isFinite(d.amount) && typeof d.currency === "string" && d.currency) {
      lead.expected_revenue = majorUnits(d.amount, d.currency);
    }
    return { ok: true, partnerDomain: partnerDomainOf(email, phone ?? ""), partner, ref: id, marker, lead, outcome: outcomeOf(d.payment_status) };
  }

  const id = text(d.lovable_lead_id);
  if (!id) return { ok: false, error: `${event.type} without lovable_lead_id: nothing to key the Odoo crm.lead on` };
  const postal = text(d.postalCode);
  const callback = event.type === "callback.created";
  if (callback && !phone) return { ok: false, error: "callback.created without phone: the Odoo partner cannot be found or created" };
  if (!callback && !email) return { ok: false, error: "lead.upserted without email: the Odoo partner cannot be found or created" };
  const name = contactName(d, (callback ? phone : email)!);
  const marker = `${callback ? "lovable-callback" : "lovable-lead"}:${id}`;
  const partner: PartnerVals = { name: cut(name) };
  put(partner, "email", email);
  put(partner, "phone", phone);
  put(partner, "zip", postal);

  const title = callback
    ? `Rappel demandé — ${cut(name)}${place(postal, null)} [${id}]`
    : `Lead ${text(d.serviceType) ?? "non-specifie"} — ${cut(name)}${place(postal, null)} [${id}]`;
  // No `type`: Odoo's default is "lead" when the database uses leads, else "opportunity",
  // so the record shows in the pipeline either way.
  const lead: LeadVals = {
    name: title,
    contact_name: cut(name),
    description: description(marker, [
      ["Type de raccordement", d.serviceType], ["Code postal", postal], ["Source", d.source],
      ["utm_source", d.utm_source], ["utm_medium", d.utm_medium], ["utm_campaign", d.utm_campaign],
    ]),
  };
  put(lead, "email_from", email);
  put(lead, "phone", phone);
  put(lead, "zip", postal);
  return { ok: true, partnerDomain: partnerDomainOf(email, phone ?? ""), partner, ref: id, marker, lead, outcome: null };
}

/**
 * The domain that finds this record's crm.lead, archived (lost) ones included
 * when searched with `active_test: false`: by the "[<id>]" its name ends with,
 * or by the marker of its description (a user may rename the lead).
 */
export function leadDomain(ref: string, marker: string): DomainTerm[] {
  return ["|", ["name", "ilike", `[${ref}]`], ["description", "ilike", marker]];
}
