import { describe, expect, it } from "vitest";
import { HttpError } from "../../src/http/http-error.ts";
import { isValidSiren, toE164 } from "../../src/validation/normalize.ts";
import { parseInput } from "../../src/validation/parse-input.ts";
import { ContactCallbackInput, FormStartInput, FormSubmitInput } from "../../src/validation/schemas.ts";

const fieldsOf = (schema: Parameters<typeof parseInput>[0], body: unknown) => {
  try {
    parseInput(schema, body);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return (err as HttpError).fields!;
  }
  throw new Error("expected a validation error");
};

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
    expect(fieldsOf(FormStartInput, { email: "nope" })).toEqual({ email: "must be a valid email address" });
  });
  it("names each bad field", () => {
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", phone: "123", postal_code: "7500", connection_type: "x", lead_id: "y" }))
      .toEqual({
        phone: expect.stringMatching(/valid phone/),
        postal_code: "must be 5 digits",
        connection_type: expect.stringMatching(/must be one of: definitif/),
        lead_id: "must be a UUID",
      });
  });
  it("treats blank optional fields as absent and drops unknown keys", () => {
    const parsed = parseInput(FormStartInput, JSON.parse('{"email":"a@b.fr","phone":"","firstname":null,"__proto__":{"x":1},"extra":1}'));
    expect(parsed).toEqual({ email: "a@b.fr" });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
  it("refuses control characters and oversized strings", () => {
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", firstname: "A\u0000B" })).toHaveProperty("firstname");
    expect(fieldsOf(FormStartInput, { email: "a@b.fr", lastname: "x".repeat(101) })).toEqual({
      lastname: "must be at most 100 characters",
    });
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
    Object.assign(body.customer, { siren: "732829321" });
    expect(fieldsOf(FormSubmitInput, body)).toEqual({ "customer.siren": "is not a valid SIREN (checksum)" });
  });
  it("checks power_kva's type and range", () => {
    for (const [power, message] of [
      ["12", "must be a number"],
      [0, "must be greater than 0"],
      [250.5, "must be at most 250"],
    ] as const) {
      const body = validSubmit();
      (body.request as Record<string, unknown>).power_kva = power;
      expect(fieldsOf(FormSubmitInput, body)).toEqual({ "request.power_kva": message });
    }
  });
  it("reports missing parts by path", () => {
    expect(fieldsOf(FormSubmitInput, {})).toEqual({ customer: "is required", request: "is required" });
    expect(fieldsOf(FormSubmitInput, { ...validSubmit(), customer: "x" })).toHaveProperty("customer");
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
