/**
 * Pure functions from the CONTRACT §3 bodies to Zendesk Support's request
 * bodies (docs/destinations/zendesk.md has the field table):
 * - the end user of a lead or a request, matched by email by
 *   POST /api/v2/users/create_or_update (Zendesk's own upsert);
 * - the end user of a call-back (no email), matched by its external_id
 *   "lovable-callback-<id>", and the ticket (POST /api/v2/tickets) asking an
 *   agent to call back, its own external_id the same reference.
 * No `role` is ever sent: create_or_update on the email of an agent would
 * otherwise demote the agent. Lead and request details go to the user's
 * `notes`, the address to `details` (no custom user field to set up).
 */
import type { DeliveryEvent } from "../types.ts";

const NAME_MAX = 255;

export interface UserBody {
  name: string;
  email?: string;
  external_id?: string;
  phone?: string;
  details?: string;
  notes?: string;
}

export interface TicketBody {
  subject: string;
  comment: { body: string; public: boolean };
  requester_id: number;
  external_id: string;
  type: "task";
  priority: "normal";
  tags: string[];
}

export type Plan =
  | { ok: true; kind: "user"; user: UserBody }
  | { ok: true; kind: "callback"; user: UserBody; ref: string; subject: string; body: string }
  | { ok: false; error: string };

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);
const cut = (s: string, max = NAME_MAX) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

function contactName(d: Record<string, unknown>): string | null {
  return [text(d.firstName), text(d.lastName)].filter(Boolean).join(" ") || null;
}

/** The external_id of a call-back's user and ticket. */
export function callbackRef(lovableId: string): string {
  return `lovable-callback-${lovableId}`;
}

// Stripe's currencies without minor unit, and with three decimals (amounts are in minor units).
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/** "99.00 EUR" from Stripe's minor units. */
export function money(amount: number, currency: string): string {
  const c = currency.toUpperCase();
  const digits = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return `${(amount / 10 ** digits).toFixed(digits)} ${c}`;
}

const line = (label: string, v: unknown) => {
  if (v === null || v === undefined || v === "") return null;
  return `${label}: ${typeof v === "boolean" ? (v ? "oui" : "non") : String(v)}`;
};

function leadNotes(d: Record<string, unknown>): string {
  return [
    `Lead du site (lovable ${text(d.lovable_lead_id)})`,
    line("Raccordement", text(d.serviceType)),
    line("Code postal", text(d.postalCode)),
    line("Source", text(d.source)),
    line("UTM", [text(d.utm_source), text(d.utm_medium), text(d.utm_campaign)].filter(Boolean).join(" / ") || null),
  ].filter(Boolean).join("\n");
}

function requestNotes(d: Record<string, unknown>): string {
  const paid = typeof d.amount === "number" && Number.isFinite(d.amount) && typeof d.currency === "string" && d.currency
    ? money(d.amount, d.currency)
    : null;
  return [
    `Demande de raccordement (lovable ${text(d.lovable_request_id)})`,
    line("Type", text(d.type_raccordement)),
    line("Usage", text(d.usage)),
    line("Client", text(d.client_type)),
    line("Société", text(d.company_name)),
    line("SIREN", text(d.siren)),
    line("Phase", text(d.phase)),
    line("Puissance (kVA)", d.power_kva),
    line("Terrain viabilisé", d.is_viabilise),
    line("Statut", text(d.status)),
    line("Paiement", text(d.payment_status)),
    line("Montant", paid),
    line("PaymentIntent", text(d.payment_intent_id)),
  ].filter(Boolean).join("\n");
}

function address(d: Record<string, unknown>): string | null {
  const where = [text(d.zip_code), text(d.city)].filter(Boolean).join(" ");
  return [text(d.address), where].filter(Boolean).join(", ") || null;
}

function withOptional(body: UserBody, extra: Partial<UserBody>): UserBody {
  for (const [k, v] of Object.entries(extra)) if (v) (body as unknown as Record<string, unknown>)[k] = v;
  return body;
}

/** What `event` becomes at Zendesk. */
export function planOf(event: Pick<DeliveryEvent, "type" | "data">): Plan {
  const d = event.data;
  const email = text(d.email);
  const phone = text(d.phone);
  if (event.type === "request.upserted") {
    if (!text(d.lovable_request_id)) return { ok: false, error: "request.upserted without lovable_request_id" };
    if (!email) return { ok: false, error: "request.upserted without email: the Zendesk user cannot be matched" };
    const name = cut(text(d.full_name) ?? text(d.company_name) ?? email);
    return { ok: true, kind: "user", user: withOptional({ name, email }, { phone: phone ?? undefined, details: address(d) ?? undefined, notes: requestNotes(d) }) };
  }
  const id = text(d.lovable_lead_id);
  if (!id) return { ok: false, error: `${event.type} without lovable_lead_id` };
  if (event.type === "callback.created") {
    if (!phone) return { ok: false, error: "callback.created without phone: nobody to call back" };
    const name = cut(contactName(d) ?? phone);
    const postal = text(d.postalCode);
    const ref = callbackRef(id);
    return {
      ok: true, kind: "callback", ref,
      user: { name, external_id: ref, phone },
      subject: `Rappel demandé — ${name}${postal ? ` (${postal})` : ""}`,
      body: [
        "Demande de rappel depuis le site.",
        line("Nom", contactName(d)),
        line("Téléphone", phone),
        line("Code postal", postal),
        line("Source", text(d.source)),
        line("Référence", id),
      ].filter(Boolean).join("\n"),
    };
  }
  if (!email) return { ok: false, error: "lead.upserted without email: the Zendesk user cannot be matched" };
  const name = cut(contactName(d) ?? email);
  return { ok: true, kind: "user", user: withOptional({ name, email }, { phone: phone ?? undefined, notes: leadNotes(d) }) };
}

export function ticketBody(plan: Extract<Plan, { kind: "callback" }>, requesterId: number): TicketBody {
  return {
    subject: plan.subject,
    comment: { body: plan.body, public: false },
    requester_id: requesterId,
    external_id: plan.ref,
    type: "task",
    priority: "normal",
    tags: ["lovable", "rappel"],
  };
}
