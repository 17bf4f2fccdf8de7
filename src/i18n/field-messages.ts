/**
 * The catalogue of field messages, by field error code (stable across
 * languages, sent beside the message as `codes`) and, where one code covers
 * several rules, a variant (`invalid_format` of an email, a phone…).
 *
 * Field codes: required, invalid_type, too_long, too_short, too_small,
 * too_large, invalid_format, invalid_characters, not_allowed_value,
 * unknown_field.
 */
import type { Locale } from "./locale.ts";
import { fill, type MessageParams, type Translations } from "./params.ts";

export const FIELD_CODES = [
  "required",
  "invalid_type",
  "too_long",
  "too_short",
  "too_small",
  "too_large",
  "invalid_format",
  "invalid_characters",
  "not_allowed_value",
  "unknown_field",
] as const;
export type FieldCode = (typeof FIELD_CODES)[number];

const list = (v: MessageParams[string]) => (Array.isArray(v) ? v.join(", ") : String(v ?? ""));

/** Keyed `code` or `code.variant`; the plain code is the fallback of its variants. */
export const FIELD_MESSAGES: Record<string, Translations> = {
  required: { fr: "est obligatoire", en: "is required" },
  "required.if": {
    fr: (p) => `est obligatoire quand ${p.field} vaut ${p.value}`,
    en: (p) => `is required when ${p.field} is ${p.value}`,
  },
  invalid_type: { fr: "n'a pas le bon type", en: "has the wrong type" },
  "invalid_type.string": { fr: "doit être du texte", en: "must be a string" },
  "invalid_type.number": { fr: "doit être un nombre", en: "must be a number" },
  "invalid_type.boolean": { fr: "doit valoir true ou false", en: "must be true or false" },
  "invalid_type.object": { fr: "doit être un objet", en: "must be an object" },
  too_long: {
    fr: (p) => `doit faire au plus ${p.maximum} caractères`,
    en: (p) => `must be at most ${p.maximum} characters`,
  },
  too_short: {
    fr: (p) => `doit faire au moins ${p.minimum} caractères`,
    en: (p) => `must be at least ${p.minimum} characters`,
  },
  too_small: {
    fr: (p) => (p.inclusive === false ? `doit être supérieur à ${p.minimum}` : `doit être au moins ${p.minimum}`),
    en: (p) => (p.inclusive === false ? `must be greater than ${p.minimum}` : `must be at least ${p.minimum}`),
  },
  too_large: {
    fr: (p) => (p.inclusive === false ? `doit être inférieur à ${p.maximum}` : `doit être au plus ${p.maximum}`),
    en: (p) => (p.inclusive === false ? `must be less than ${p.maximum}` : `must be at most ${p.maximum}`),
  },
  invalid_format: { fr: "n'a pas un format valide", en: "has an invalid format" },
  "invalid_format.email": { fr: "doit être une adresse e-mail valide", en: "must be a valid email address" },
  "invalid_format.phone": {
    fr: "doit être un numéro de téléphone valide (français, ou international avec +)",
    en: "must be a valid phone number (French, or international with +)",
  },
  "invalid_format.postal_code": { fr: "doit comporter 5 chiffres", en: "must be 5 digits" },
  "invalid_format.siren": { fr: "doit comporter 9 chiffres", en: "must be 9 digits" },
  "invalid_format.siren_checksum": { fr: "n'est pas un SIREN valide (clé de contrôle)", en: "is not a valid SIREN (checksum)" },
  "invalid_format.uuid": { fr: "doit être un UUID", en: "must be a UUID" },
  invalid_characters: { fr: "contient des caractères non admis", en: "contains characters that are not allowed" },
  "invalid_characters.control": { fr: "ne doit pas contenir de caractères de contrôle", en: "must not contain control characters" },
  "invalid_characters.unicode": { fr: "doit être un texte Unicode valide", en: "must be valid Unicode text" },
  not_allowed_value: {
    fr: (p) => `doit valoir l'une de ces valeurs : ${list(p.values)}`,
    en: (p) => `must be one of: ${list(p.values)}`,
  },
  unknown_field: {
    fr: (p) => (p.suggestion ? `n'est pas un champ connu ; vouliez-vous dire ${p.suggestion} ?` : "n'est pas un champ connu"),
    en: (p) => (p.suggestion ? `is not a known field; did you mean ${p.suggestion}?` : "is not a known field"),
  },
};

/** The message of a field error in `locale`: its variant's text, else its code's, else undefined. */
export function fieldMessage(code: string, locale: Locale, params: MessageParams = {}): string | undefined {
  const variant = typeof params.variant === "string" ? `${code}.${params.variant}` : undefined;
  const key = variant && Object.hasOwn(FIELD_MESSAGES, variant) ? variant : code;
  return Object.hasOwn(FIELD_MESSAGES, key) ? fill(FIELD_MESSAGES[key][locale], params) : undefined;
}
