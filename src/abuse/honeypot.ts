/**
 * A form field people never see (hidden with CSS) and bots fill in. A request
 * with it gets an answer that looks like success, so the bot learns nothing,
 * while nothing is stored and nothing reaches the CRM.
 */
export const HONEYPOT_FIELD = "website";

export function isHoneypotTripped(body: unknown): boolean {
  const value = (body as Record<string, unknown>)[HONEYPOT_FIELD];
  return typeof value === "string" && value.trim() !== "";
}
