/**
 * What the console shows of a record: every string of a known personal key
 * (email, phone, names, address, company, SIREN) masked, and every other
 * string passed through maskText, so an email or a phone number typed into a
 * free field (a UTM, a vendor's error) never shows in full either.
 */
import { maskEmail, maskPhone, maskText } from "../mask.ts";

const EMAIL_KEYS = /^(email|e_mail|mail)$/i;
const PHONE_KEYS = /^(phone|telephone|tel|mobile)$/i;
const PERSONAL_KEYS = /^(first_?name|last_?name|full_?name|name|address|street|company_name|siren|birth_?date)$/i;

/** Keeps the first character of each word: "Marie Curie" → "M*** C***". */
export function maskName(value: string): string {
  return value.split(/\s+/).filter(Boolean).map((w) => `${[...w][0]}***`).join(" ");
}

export function maskValue(key: string, value: string): string {
  if (EMAIL_KEYS.test(key)) return value.includes("@") ? maskEmail(value) : "***";
  if (PHONE_KEYS.test(key)) return maskPhone(value) === value ? "***" : maskPhone(value);
  if (PERSONAL_KEYS.test(key)) return maskName(value);
  return maskText(value);
}

/** A deep copy with personal data masked. */
export function maskRecord(value: unknown, key = "", depth = 0): unknown {
  if (depth > 8) return "[…]";
  if (typeof value === "string") return maskValue(key, value);
  if (Array.isArray(value)) return value.map((v) => maskRecord(v, key, depth + 1));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskRecord(v, k, depth + 1)]));
  }
  return value;
}
