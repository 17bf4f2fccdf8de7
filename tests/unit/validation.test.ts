import { describe, expect, it } from "vitest";
import { HttpError } from "../../src/http/http-error.ts";
import { renderHttpError } from "../../src/http/responses.ts";
import type { Locale } from "../../src/i18n/locale.ts";
import { isValidSiren, toE164 } from "../../src/validation/normalize.ts";
import { parseInput } from "../../src/validation/parse-input.ts";
import { suggestField } from "../../src/validation/suggest-field.ts";
import { ContactCallbackInput, CreatePaymentIntentInput, FormStartInput, FormSubmitInput } from "../../src/validation/schemas.ts";

/** The 400's `error` object as a visitor reading `locale` receives it. */
const errorOf = (schema: Parameters<typeof parseInput>[0], body: unknown, locale: Locale = "en") => {
  try {
    parseInput(schema, body);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    const error = renderHttpError(err as HttpError, locale) as { code: string; message: string; fields: Record<string, string>; codes: Record<string, string> };
    expect(error.code).toBe("invalid_input");
    // Every field named has a code, and every code a message.
    expect(Object.keys(error.codes)).toEqual(Object.keys(error.fields));
    return error;
  }
  throw new Error("expected a validation error");
};
const fieldsOf = (schema: Parameters<typeof parseInput>[0], body: unknown) => ({ ...errorOf(schema, body).fields });
const codesOf = (schema: Parameters<typeof parseInput>[0], body: unknown) => ({ ...errorOf(schema, body).codes });

const validSubmit = () => ({
  customer: { email: "Jean@Example.FR", phone: "06 12 34 56 78", full_name: "Jean Dupont", client_type: "particulier" },
  request: { type_raccordement: "definitif", address: "1 rue de la Paix", city: "Paris", zip_code: "75002", power_kva: 12 },
});

describe("normalisation", () => {
  it("phones become E.164", () => {
    expect(toE164("06 12 34 56 78")).toBe("+33612345678");
    expect(toE164("+33 6 12 34 56 78")).toBe("+33612345678");
    expect(toE164("0033612345678")).toBe("+33612345678");
    expect(toE164("+44 20 7946 0958")).toBe("+442079460958");
    expect(toE164("12")).toBeNull();
    expect(toE164("06 12")).toBeNull();
  });
  it("SIREN needs 9 digits and a valid Luhn checksum", () => {
    expect(isValidSiren("732829320")).toBe(true);
    expect(isValidSiren("732829321")).toBe(false);
    expect(isValidSiren("73282932")).toBe(false);
  });
  it("emails are lower-cased", () => {
    expect(parseInput(FormStartInput, { email: " Marie@Exemple.FR " }).email).toBe("marie@exemple.fr");
  });
});

describe("form-start input", () => {
  it("needs an email", () => {
    expect(fieldsOf(FormStartInput, {})).toEqual({ email: "is required" });
    expect(codesOf(FormStartInput, {})).toEqual({ email: "required" });
    expect(fieldsOf(FormStartInput, { email: "nope" })).toEqual({ email: "must be a valid email address" });
    expect(codesOf(FormStartInput, { email: "nope" })).toEqual({ email: "invalid_format" });
  });
  it("names each bad field", () => {
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", phone: "123", postal_code: "7500", connection_type: "x", lead_id: "y" }))
      .toEqual({
        phone: expect.stringMatching(/valid phone/),
        postal_code: "must be 5 digits",
        connection_type: expect.stringMatching(/must be one of: definitif/),
        lead_id: "must be a UUID",
      });
    expect(codesOf(FormStartInput, { email: "a@b.fr", phone: "123", postal_code: "7500", connection_type: "x", lead_id: "y", firstname: 7 }))
      .toEqual({
        phone: "invalid_format",
        postal_code: "invalid_format",
        connection_type: "not_allowed_value",
        lead_id: "invalid_format",
        firstname: "invalid_type",
      });
  });
  it("treats blank optional fields as absent", () => {
    expect(parseInput(FormStartInput, { email: "a@b.fr", phone: "", firstname: null, lastname: "  " })).toEqual({ email: "a@b.fr" });
  });
  it("refuses unknown keys, naming each one", () => {
    const body = JSON.parse('{"email":"a@b.fr","__proto__":{"x":1},"extra":1}');
    expect(fieldsOf(FormStartInput, body)).toEqual({ ["__proto__"]: "is not a known field", extra: "is not a known field" });
    expect(codesOf(FormStartInput, body)).toEqual({ ["__proto__"]: "unknown_field", extra: "unknown_field" });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
  it("refuses control characters and oversized strings", () => {
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", firstname: "A\u0000B" })).toHaveProperty("firstname");
    expect(codesOf(FormStartInput, { email: "a@b.fr", firstname: "A\u0000B" })).toEqual({ firstname: "invalid_characters" });
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", lastname: "x".repeat(101) })).toEqual({
      lastname: "must be at most 100 characters",
    });
    expect(codesOf(FormStartInput, { email: "a@b.fr", lastname: "x".repeat(101) })).toEqual({ lastname: "too_long" });
  });
});

describe("form-submit input", () => {
  it("accepts a complete request and normalises it", () => {
    const parsed = parseInput(FormSubmitInput, validSubmit());
    expect(parsed.customer).toMatchObject({ email: "jean@example.fr", phone: "+33612345678" });
  });
  it("requires a valid SIREN for professionals", () => {
    const body = validSubmit();
    Object.assign(body.customer, { client_type: "professionnel" });
    expect(fieldsOf(FormSubmitInput, body)).toEqual({ "customer.siren": "is required when client_type is professionnel" });
    expect(codesOf(FormSubmitInput, body)).toEqual({ "customer.siren": "required" });
    Object.assign(body.customer, { siren: "732829321" });
    expect(fieldsOf(FormSubmitInput, body)).toEqual({ "customer.siren": "is not a valid SIREN (checksum)" });
    expect(codesOf(FormSubmitInput, body)).toEqual({ "customer.siren": "invalid_format" });
  });
  it("checks power_kva's type and range", () => {
    for (const [power, message, code] of [
      ["12", "must be a number", "invalid_type"],
      [0, "must be greater than 0", "too_small"],
      [-1, "must be greater than 0", "too_small"],
      [250.5, "must be at most 250", "too_large"],
      [true, "must be a number", "invalid_type"],
    ] as const) {
      const body = validSubmit();
      (body.request as Record<string, unknown>).power_kva = power;
      expect(fieldsOf(FormSubmitInput, body)).toEqual({ "request.power_kva": message });
      expect(codesOf(FormSubmitInput, body)).toEqual({ "request.power_kva": code });
    }
  });
  it("reports missing parts by path", () => {
    expect(fieldsOf(FormSubmitInput, {})).toEqual({ customer: "is required", request: "is required" });
    expect(fieldsOf(FormSubmitInput, { ...validSubmit(), customer: "x" })).toEqual({ customer: "must be an object" });
    expect(codesOf(FormSubmitInput, { ...validSubmit(), customer: "x" })).toEqual({ customer: "invalid_type" });
  });
});

describe("contact-callback input", () => {
  it("needs a name and a valid phone", () => {
    expect(fieldsOf(ContactCallbackInput, {})).toEqual({ full_name: "is required", phone: "is required" });
    expect(parseInput(ContactCallbackInput, { full_name: "Ana", phone: "0612345678" }).phone).toBe("+33612345678");
  });
});

describe("inputs found by fuzzing", () => {
  it("the smallest positive power_kva is valid (the database stores it exactly)", () => {
    const body = validSubmit();
    (body.request as Record<string, unknown>).power_kva = 5e-324;
    expect(parseInput(FormSubmitInput, body).request.power_kva).toBe(5e-324);
  });
  it("a lone UTF-16 surrogate is refused as text", () => {
    expect(fieldsOf(FormStartInput, JSON.parse('{"email":"a@b.fr","firstname":"x\\udfff"}'))).toEqual({
      firstname: "must be valid Unicode text",
    });
    // A proper pair (an emoji) is fine.
    expect(parseInput(FormStartInput, { email: "a@b.fr", firstname: "Zoé 😀" }).firstname).toBe("Zoé 😀");
  });
});

describe("unknown fields", () => {
  it("are refused in nested objects too, by their full path, with the near-miss suggested", () => {
    const body = validSubmit();
    Object.assign(body.customer, { fullName: "x" });
    Object.assign(body.request, { zipcode: "75002", colour: "blue" });
    expect(errorOf(FormSubmitInput, { ...body, leadId: "x" })).toMatchObject({
      fields: {
        "customer.fullName": "is not a known field; did you mean full_name?",
        "request.zipcode": "is not a known field; did you mean zip_code?",
        "request.colour": "is not a known field",
        leadId: "is not a known field; did you mean lead_id?",
      },
      codes: { "customer.fullName": "unknown_field", "request.zipcode": "unknown_field", "request.colour": "unknown_field", leadId: "unknown_field" },
    });
  });
  it("firstName instead of firstname: 400 naming it, in French by default", () => {
    expect(errorOf(FormStartInput, { email: "a@b.fr", firstName: "Marie" }, "fr")).toEqual({
      code: "invalid_input",
      message: "Certains champs ne sont pas valides.",
      fields: { firstName: "n'est pas un champ connu ; vouliez-vous dire firstname ?" },
      codes: { firstName: "unknown_field" },
    });
  });
  it("the honeypot is not part of the schemas (the form shell takes it off) nor of create-payment-intent", () => {
    expect(codesOf(CreatePaymentIntentInput, { request_id: crypto.randomUUID(), website: "" })).toEqual({ website: "unknown_field" });
  });
  it("suggestions: case, separators and small typos; nothing when far or ambiguous", () => {
    const known = ["email", "phone", "firstname", "lastname", "postal_code", "utm_source", "utm_medium"];
    expect(suggestField("firstName", known)).toBe("firstname");
    expect(suggestField("Postal-Code", known)).toBe("postal_code");
    expect(suggestField("emial", known)).toBe("email");
    expect(suggestField("mail", known)).toBe("email");
    expect(suggestField("lastnmae", known)).toBe("lastname");
    expect(suggestField("utm_sourc", known)).toBe("utm_source");
    expect(suggestField("utm", known)).toBeUndefined();
    expect(suggestField("address", known)).toBeUndefined();
    expect(suggestField("utm_mediun", ["utm_medium", "utm_mediux"])).toBeUndefined();
  });
});

describe("messages in French and English, codes the same", () => {
  const body = { email: "nope", phone: "12", postal_code: "7500", connection_type: "solaire", lastname: "x".repeat(101) };
  it("French", () => {
    expect(errorOf(FormStartInput, body, "fr")).toEqual({
      code: "invalid_input",
      message: "Certains champs ne sont pas valides.",
      fields: {
        email: "doit être une adresse e-mail valide",
        phone: "doit être un numéro de téléphone valide (français, ou international avec +)",
        postal_code: "doit comporter 5 chiffres",
        connection_type: "doit valoir l'une de ces valeurs : definitif, provisoire, modification, augmentation_puissance, photovoltaique",
        lastname: "doit faire au plus 100 caractères",
      },
      codes: { email: "invalid_format", phone: "invalid_format", postal_code: "invalid_format", connection_type: "not_allowed_value", lastname: "too_long" },
    });
  });
  it("English", () => {
    const en = errorOf(FormStartInput, body, "en");
    expect(en.message).toBe("The request has invalid fields.");
    expect(en.fields.connection_type).toBe("must be one of: definitif, provisoire, modification, augmentation_puissance, photovoltaique");
    expect(en.codes).toEqual(errorOf(FormStartInput, body, "fr").codes);
  });
  it("every field rule has a French and an English message, different from each other", () => {
    const submit = validSubmit();
    Object.assign(submit.customer, { client_type: "professionnel", full_name: "\ud800", phone: 3 });
    Object.assign(submit.request, { power_kva: 300, is_viabilise: "oui", city: "c".repeat(101) });
    for (const [schema, b] of [[FormSubmitInput, submit], [FormStartInput, body], [ContactCallbackInput, { x: 1 }]] as const) {
      const fr = errorOf(schema, b, "fr");
      const en = errorOf(schema, b, "en");
      for (const path of Object.keys(en.fields)) {
        expect(fr.fields[path], path).not.toBe(en.fields[path]);
        expect(fr.fields[path], path).not.toBe(fr.codes[path]);
      }
    }
  });
});
