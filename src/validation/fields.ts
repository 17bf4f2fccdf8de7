/**
 * Field-level zod types with messages a visitor (or the website's developer)
 * can act on. Optional text fields accept "", null or absence as "not given".
 */
import { z } from "zod";
import { isValidSiren, toE164 } from "./normalize.ts";

// Control characters have no place in a form field (tab and newline excepted in free text).
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
// A lone UTF-16 surrogate ("\udfff" in JSON) is not text: Postgres refuses it in jsonb.
const LONE_SURROGATE = /\p{Cs}/u;

export const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .max(max, { error: `must be at most ${max} characters` })
    .refine((v) => !CONTROL.test(v), { error: "must not contain control characters" })
    .refine((v) => !LONE_SURROGATE.test(v), { error: "must be valid Unicode text" });

const blankToUndefined = (v: unknown) => (v === null || (typeof v === "string" && v.trim() === "") ? undefined : v);

/** An optional field: absent, null or blank all mean "not given" (undefined). */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

/** A required field: absent, null or blank are reported as "is required". */
// The check runs before `schema` (a pipe), so an absent key is reported and never skipped as optional.
export const required = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    blankToUndefined,
    z.unknown().refine((v) => v !== undefined, { error: "is required" }).pipe(schema as z.ZodType<unknown, any>),
  ) as unknown as z.ZodType<z.output<T>, z.input<T>>;

export const email = text(254)
  .pipe(z.email({ error: "must be a valid email address" }))
  .transform((v) => v.toLowerCase());

export const phone = text(32).transform((v, ctx) => {
  const e164 = toE164(v);
  if (!e164) {
    ctx.addIssue({ code: "custom", message: "must be a valid phone number (French, or international with +)" });
    return z.NEVER;
  }
  return e164;
});

export const postalCode = text(5).regex(/^\d{5}$/, { error: "must be 5 digits" });

export const siren = z
  .string({ error: "must be a string" })
  .transform((v) => v.replace(/\s+/g, ""))
  .refine((v) => /^\d{9}$/.test(v), { error: "must be 9 digits" })
  .refine(isValidSiren, { error: "is not a valid SIREN (checksum)" });

export const uuid = z.string({ error: "must be a string" }).trim().pipe(z.uuid({ error: "must be a UUID" }));

export const enumOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of: ${values.join(", ")}` });
