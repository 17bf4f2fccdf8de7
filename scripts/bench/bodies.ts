/**
 * Valid, unique request bodies for form-start and form-submit: unique e-mails
 * (no row-lock contention) and unique mobile numbers (vendors such as Brevo
 * refuse a number already held by another contact: one shared number would
 * make every 5-destination delivery a refusal and a second call).
 */
import { validLead, validSubmit } from "../lib/sample-bodies.ts";

let counter = 0;
const unique = () => `${process.pid.toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const mobile = () => `06 12 ${String(Math.floor(Math.random() * 1e6)).padStart(6, "0").replace(/(\d\d)(?=\d)/g, "$1 ")}`;

export function formStartBody(leadId?: string) {
  return { ...(leadId ? { lead_id: leadId } : {}), ...validLead(`lead-${unique()}@example.fr`), phone: mobile(), utm_campaign: "bench" };
}

export function formSubmitBody(leadId?: string) {
  const body = validSubmit(`client-${unique()}@example.fr`);
  return { ...(leadId ? { lead_id: leadId } : {}), ...body, customer: { ...body.customer, phone: mobile() } };
}
