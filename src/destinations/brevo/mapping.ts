/**
 * Event → Brevo bodies (pure). Contacts use Brevo's default attributes
 * (FIRSTNAME, LASTNAME, SMS); the custom ones below only when the operator
 * created them in the account and set BREVO_CUSTOM_ATTRIBUTES=true (Brevo:
 * "These attributes must be present in your Brevo account"). Absent (null)
 * values are left out, so a later snapshot never blanks what the CRM holds.
 * Requests become a deal named after the request, its id in brackets (how a
 * deal created just before a crash is found again), amount in major units,
 * pipeline and stage from payment_status when the operator mapped them.
 */
import type { PaymentStatus } from "../../validation/enums.ts";

/** Custom contact attributes sent with BREVO_CUSTOM_ATTRIBUTES=true (create them in Brevo first). */
export const CUSTOM_CONTACT_ATTRIBUTES = [
  "POSTAL_CODE", "SERVICE_TYPE", "LEAD_SOURCE", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "LOVABLE_ID",
] as const;

export interface MappingOptions {
  customAttributes: boolean;
  /** Brevo pipeline id; required when stages are mapped. */
  pipelineId?: string;
  /** payment_status → Brevo deal_stage id (from GET /crm/pipeline/details/{pipelineID}). */
  stages: Partial<Record<PaymentStatus, string>>;
}

export type Attributes = Record<string, string | number | boolean>;

const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

function put(target: Attributes, key: string, value: unknown) {
  const s = typeof value === "number" || typeof value === "boolean" ? value : str(value);
  if (s !== undefined) target[key] = s;
}

/** "Ana Lopez Garcia" → ["Ana", "Lopez Garcia"] (the first space splits, as CONTRACT §3 does for call-backs). */
export function splitName(full: unknown): [string | undefined, string | undefined] {
  const name = str(full);
  if (!name) return [undefined, undefined];
  const space = name.indexOf(" ");
  return space === -1 ? [name, undefined] : [name.slice(0, space), str(name.slice(space + 1))];
}

/** Contact attributes of a lead.upserted / callback.created event (the /leads body). */
export function leadAttributes(data: Record<string, unknown>, o: Pick<MappingOptions, "customAttributes">): Attributes {
  const a: Attributes = {};
  put(a, "FIRSTNAME", data.firstName);
  put(a, "LASTNAME", data.lastName);
  put(a, "SMS", data.phone);
  if (o.customAttributes) {
    put(a, "POSTAL_CODE", data.postalCode);
    put(a, "SERVICE_TYPE", data.serviceType);
    put(a, "LEAD_SOURCE", data.source);
    put(a, "UTM_SOURCE", data.utm_source);
    put(a, "UTM_MEDIUM", data.utm_medium);
    put(a, "UTM_CAMPAIGN", data.utm_campaign);
    put(a, "LOVABLE_ID", data.lovable_lead_id);
  }
  return a;
}

/** Contact attributes of a request.upserted event (the /requests body). */
export function requestContactAttributes(data: Record<string, unknown>, o: Pick<MappingOptions, "customAttributes">): Attributes {
  const a: Attributes = {};
  const [first, last] = splitName(data.full_name);
  put(a, "FIRSTNAME", first);
  put(a, "LASTNAME", last);
  put(a, "SMS", data.phone);
  if (o.customAttributes) {
    put(a, "POSTAL_CODE", data.zip_code);
    put(a, "SERVICE_TYPE", data.type_raccordement);
  }
  return a;
}

/** The `POST /contacts` body: an upsert by email (`updateEnabled`), or a phone-only contact. */
export function contactBody(email: string | undefined, attributes: Attributes): Record<string, unknown> {
  return email ? { email, attributes, updateEnabled: true } : { attributes };
}

export function withoutSms(attributes: Attributes): Attributes {
  const { SMS: _sms, ...rest } = attributes;
  return rest;
}

/** The request id's marker in the deal name: how a deal is recognised when looked up. */
export const dealMarker = (requestId: string) => `[${requestId}]`;

export function dealName(data: Record<string, unknown>): string {
  const who = str(data.company_name) ?? str(data.full_name) ?? str(data.email) ?? "client";
  const kind = str(data.type_raccordement) ?? "raccordement";
  return `Raccordement ${kind} – ${who} ${dealMarker(String(data.lovable_request_id))}`;
}

/** Deal attributes: amount (major units) once a payment exists; pipeline + stage when mapped. */
export function dealAttributes(data: Record<string, unknown>, o: MappingOptions): Attributes {
  const a: Attributes = {};
  if (typeof data.amount === "number" && Number.isFinite(data.amount)) a.amount = Math.round(data.amount) / 100;
  const stage = o.stages[data.payment_status as PaymentStatus];
  if (stage && o.pipelineId) {
    // Brevo: to set or move a stage, send both `pipeline` and `deal_stage`.
    a.pipeline = o.pipelineId;
    a.deal_stage = stage;
  }
  return a;
}
