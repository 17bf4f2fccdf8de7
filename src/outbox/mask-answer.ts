/**
 * A vendor's error answer often echoes what it was sent (names, addresses,
 * companies). Before it reaches a log line or the attempt log, every personal
 * value of the event is replaced, then emails and phones are masked as in logs.
 */
import { maskText } from "../mask.ts";
import type { AttemptOutcome } from "../destinations/types.ts";

const PERSONAL_FIELDS = ["email", "phone", "firstName", "lastName", "full_name", "company_name", "siren", "address", "city", "postalCode", "zip_code"];

export function maskKnownValues(outcome: AttemptOutcome, data: Record<string, unknown>): AttemptOutcome {
  const values = PERSONAL_FIELDS.map((f) => data[f]).filter((v): v is string => typeof v === "string" && v.length >= 3)
    .sort((a, b) => b.length - a.length);
  const mask = (text: string) => maskText(values.reduce((t, v) => t.split(v).join("***"), text));
  const out = { ...outcome } as AttemptOutcome & { error?: string; excerpt?: string };
  if (typeof out.error === "string") out.error = mask(out.error);
  if (typeof out.excerpt === "string") out.excerpt = mask(out.excerpt);
  return out;
}
