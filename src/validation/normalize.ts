/**
 * Normalisation of the values visitors type: phone numbers to E.164 (with
 * libphonenumber's full metadata, French by default), SIREN checksum.
 */
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

/** Returns the E.164 form, or null when the number is not a valid phone number. */
export function toE164(input: string): string | null {
  const phone = parsePhoneNumberFromString(input, "FR");
  if (!phone || !phone.isValid()) return null;
  return phone.number;
}

/** SIREN: 9 digits whose Luhn checksum is valid. */
export function isValidSiren(value: string): boolean {
  if (!/^\d{9}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    let digit = Number(value[8 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
