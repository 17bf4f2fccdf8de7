/**
 * Pure functions from the CONTRACT §3 bodies to Salesforce sObject bodies
 * (docs/destinations/salesforce.md has the field table):
 * - a lead or a call-back → a Lead (LastName and Company are required on Lead:
 *   "Inconnu" / "Particulier" when the event has none);
 * - a request → a Lead (the customer) and an Opportunity (the money: StageName
 *   from `payment_status`, Amount once a payment exists).
 * The external id (the Lovable id) goes in the upsert URL, never in the body.
 * Strings are cut to the standard fields' lengths, so a long name is never a
 * STRING_TOO_LONG refusal.
 */
import { PAYMENT_STATUSES, type PaymentStatus } from "../../validation/enums.ts";

export type SObjectBody = Record<string, string | number | null>;

export const UNKNOWN_LAST_NAME = "Inconnu";
export const NO_COMPANY = "Particulier";
/** A value of Lead.LeadSource and Opportunity.LeadSource in a new org's picklist. */
export const LEAD_SOURCE = "Web";

/** Opportunity.StageName per payment status: values of a new org's standard stage picklist. */
export const DEFAULT_OPPORTUNITY_STAGES: Readonly<Record<PaymentStatus, string>> = {
  pending: "Prospecting",
  failed: "Prospecting",
  paid: "Closed Won",
  canceled: "Closed Lost",
  refunded: "Closed Lost",
};

// Standard field lengths (Lead and Opportunity in the Object Reference).
const MAX = { FirstName: 40, LastName: 80, Company: 255, Email: 80, Phone: 40, Street: 255, City: 40, PostalCode: 20, Name: 120, Description: 32_000 } as const;

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v.trim() : null);

function cut(value: string | null, field: keyof typeof MAX): string | null {
  if (value === null) return null;
  const max = MAX[field];
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** "Jean Dupont de la Tour" → first "Jean", last "Dupont de la Tour" (CONTRACT §3's split). */
export function splitName(full: string | null): { first: string | null; last: string | null } {
  if (!full) return { first: null, last: null };
  const space = full.indexOf(" ");
  if (space === -1) return { first: null, last: full };
  return { first: full.slice(0, space), last: full.slice(space + 1).trim() || null };
}

const lines = (pairs: Array<[string, unknown]>): string =>
  pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => `${k} : ${v}`).join("\n");

/** lead.upserted and callback.created → the Lead's fields. */
export function leadFields(d: Record<string, unknown>, type: "lead.upserted" | "callback.created"): SObjectBody {
  const utm = [text(d.utm_source), text(d.utm_medium), text(d.utm_campaign)];
  const description = lines([
    ["Demande", type === "callback.created" ? "rappel téléphonique" : "contact"],
    ["Type de raccordement", text(d.serviceType)],
    ["Source", text(d.source)],
    ["UTM (source / medium / campagne)", utm.some(Boolean) ? utm.map((u) => u ?? "-").join(" / ") : null],
  ]);
  return {
    FirstName: cut(text(d.firstName), "FirstName"),
    LastName: cut(text(d.lastName) ?? UNKNOWN_LAST_NAME, "LastName"),
    Company: NO_COMPANY,
    Email: cut(text(d.email), "Email"),
    Phone: cut(text(d.phone), "Phone"),
    PostalCode: cut(text(d.postalCode), "PostalCode"),
    LeadSource: LEAD_SOURCE,
    Description: cut(description, "Description"),
  };
}

// Stripe's currencies without minor unit, and with three decimals (amounts are in minor units).
const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/** An amount in minor units (Stripe) in major units (Salesforce's Amount). */
export function majorUnits(amount: number, currency: string): number {
  const c = currency.toUpperCase();
  return amount / 10 ** (ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2);
}

function payment(d: Record<string, unknown>): { amount: number; currency: string } | null {
  return typeof d.amount === "number" && Number.isFinite(d.amount) && typeof d.currency === "string" && d.currency
    ? { amount: majorUnits(d.amount, d.currency), currency: d.currency.toUpperCase() }
    : null;
}

function requestSummary(d: Record<string, unknown>): string {
  const paid = payment(d);
  const yesNo = (v: unknown) => (v === true ? "oui" : v === false ? "non" : null);
  return lines([
    ["Demande de raccordement", text(d.lovable_request_id)],
    ["Type de raccordement", text(d.type_raccordement)],
    ["Usage", text(d.usage)],
    ["Type de client", text(d.client_type)],
    ["SIREN", text(d.siren)],
    ["Phase", text(d.phase)],
    ["Puissance (kVA)", typeof d.power_kva === "number" ? d.power_kva : null],
    ["Terrain viabilisé", yesNo(d.is_viabilise)],
    ["Statut de la demande", text(d.status)],
    ["Paiement", text(d.payment_status)],
    ["Montant", paid ? `${paid.amount} ${paid.currency}` : null],
    ["Paiement Stripe", text(d.payment_intent_id)],
  ]);
}

/** request.upserted → the customer's Lead. */
export function requestLeadFields(d: Record<string, unknown>): SObjectBody {
  const { first, last } = splitName(text(d.full_name));
  return {
    FirstName: cut(first, "FirstName"),
    LastName: cut(last ?? UNKNOWN_LAST_NAME, "LastName"),
    Company: cut(text(d.company_name) ?? NO_COMPANY, "Company"),
    Email: cut(text(d.email), "Email"),
    Phone: cut(text(d.phone), "Phone"),
    Street: cut(text(d.address), "Street"),
    City: cut(text(d.city), "City"),
    PostalCode: cut(text(d.zip_code), "PostalCode"),
    LeadSource: LEAD_SOURCE,
    Description: cut(requestSummary(d), "Description"),
  };
}

/** request.upserted → the Opportunity; `closeDate` is the snapshot's day (YYYY-MM-DD). */
export function opportunityFields(d: Record<string, unknown>, stages: Readonly<Record<PaymentStatus, string>>, closeDate: string): SObjectBody {
  const status = PAYMENT_STATUSES.includes(d.payment_status as PaymentStatus) ? (d.payment_status as PaymentStatus) : "pending";
  const who = text(d.company_name) ?? text(d.full_name) ?? text(d.email) ?? "client";
  const where = [text(d.zip_code), text(d.city)].filter(Boolean).join(" ");
  const body: SObjectBody = {
    Name: cut(`Raccordement ${text(d.type_raccordement) ?? ""} — ${who}${where ? ` (${where})` : ""}`.replace(/ {2,}/g, " "), "Name"),
    StageName: stages[status],
    CloseDate: closeDate,
    LeadSource: LEAD_SOURCE,
    Description: cut(requestSummary(d), "Description"),
  };
  const paid = payment(d);
  if (paid) body.Amount = paid.amount;
  return body;
}
