/** Valid, unique request bodies for form-start and form-submit (unique e-mails: no row-lock contention). */
import { validLead, validSubmit } from "../lib/sample-bodies.ts";

let counter = 0;
const unique = () => `${process.pid.toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export function formStartBody(leadId?: string) {
  return { ...(leadId ? { lead_id: leadId } : {}), ...validLead(`lead-${unique()}@example.fr`), utm_campaign: "bench" };
}

export function formSubmitBody(leadId?: string) {
  return { ...(leadId ? { lead_id: leadId } : {}), ...validSubmit(`client-${unique()}@example.fr`) };
}
