/**
 * A form field people never see (hidden with CSS) and bots fill in. A request
 * with it gets an answer that looks like success, so the bot learns nothing,
 * while nothing is stored and nothing reaches the CRM.
 */
export const HONEYPOT_FIELD = "website";

/**
 * Any value but an empty string (or null) trips it: whitespace, numbers,
 * booleans, arrays and objects included — a person never fills the field.
 */
export function isHoneypotTripped(body: unknown): boolean {
  if (!Object.hasOwn(body as object, HONEYPOT_FIELD)) return false;
  const value = (body as Record<string, unknown>)[HONEYPOT_FIELD];
  return value !== "" && value !== null && value !== undefined;
}
