/**
 * Field-level zod types. Every rule reports a stable code the website can act
 * on (zod's own issue codes for the built-in checks, `params.code` for ours;
 * see parse-input.ts), and the message is rendered in the visitor's language
 * from src/i18n/field-messages.ts. Optional text fields accept "", null or
 * absence as "not given".
 */
import { z } from "zod";
import { isValidSiren, toE164 } from "./normalize.ts";

// Control characters have no place in a form field (tab and newline excepted in free text).
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
// A lone UTF-16 surrogate ("\udfff" in JSON) is not text: Postgres refuses it in jsonb.
const LONE_SURROGATE = /\p{Cs}/u;

/** The code (and message variant) one of our own rules reports. */
export const issue = (code: string, variant?: string, extra: Record<string, string | number | boolean> = {}) => ({
  params: { code, ...(variant ? { variant } : {}), ...extra },
});

export const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((v) => !CONTROL.test(v), issue("invalid_characters", "control"))
    .refine((v) => !LONE_SURROGATE.test(v), issue("invalid_characters", "unicode"));

const blankToUndefined = (v: unknown) => (v === null || (typeof v === "string" && v.trim() === "") ? undefined : v);

/** An optional field: absent, null or blank all mean "not given" (undefined). */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

/** A required field: absent, null or blank are reported as `required`. */
// The check runs before `schema` (a pipe), so an absent key is reported and never skipped as optional.
export const required = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    blankToUndefined,
    z.unknown().refine((v) => v !== undefined, issue("required")).pipe(schema as z.ZodType<unknown, any>),
  ) as unknown as z.ZodType<z.output<T>, z.input<T>>;

export const email = text(254)
  .pipe(z.email())
  .transform((v) => v.toLowerCase());

export const phone = text(32).transform((v, ctx) => {
  const e164 = toE164(v);
  if (!e164) {
    ctx.addIssue({ code: "custom", message: "must be a valid phone number", ...issue("invalid_format", "phone") });
    return z.NEVER;
  }
  return e164;
});

export const postalCode = text(5).refine((v) => /^\d{5}$/.test(v), issue("invalid_format", "postal_code"));

export const siren = z
  .string()
  .transform((v) => v.replace(/\s+/g, ""))
  .refine((v) => /^\d{9}$/.test(v), issue("invalid_format", "siren"))
  .refine(isValidSiren, issue("invalid_format", "siren_checksum"));

export const uuid = z.string().trim().pipe(z.uuid());

export const enumOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
