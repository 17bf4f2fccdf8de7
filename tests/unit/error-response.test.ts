import { describe, expect, it } from "vitest";
import { HttpError, httpError, invalidFields } from "../../src/http/http-error.ts";
import { toErrorResponse } from "../../src/http/responses.ts";
import { negotiateLocale } from "../../src/i18n/locale.ts";
import { createLogger } from "../../src/log.ts";

const log = createLogger({}, () => {});
const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });
const requestIn = (acceptLanguage?: string) =>
  new Request("http://localhost/", { headers: acceptLanguage === undefined ? {} : { "accept-language": acceptLanguage } });

describe("toErrorResponse", () => {
  it("renders an HttpError with its status, code, fields and headers", async () => {
    const thrown = new HttpError(429, "rate_limited", "slow down", { a: "b" }, { "retry-after": "7" });
    const res = toErrorResponse(thrown, log, requestIn("en"));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(res.headers.get("content-language")).toBe("en");
    expect(await res.json()).toEqual({ error: { code: "rate_limited", message: "slow down", fields: { a: "b" } } });
    // In French, the catalogue's text for the code (the wait taken from Retry-After).
    const fr = toErrorResponse(thrown, log, requestIn("fr-FR"));
    expect(fr.headers.get("content-language")).toBe("fr");
    expect(await fr.json()).toEqual({ error: { code: "rate_limited", message: "Trop de demandes ; réessayez dans 7 s.", fields: { a: "b" } } });
  });

  it("a code the catalogue lacks keeps the thrower's English, and its French when given", async () => {
    const plain = new HttpError(409, "something_new", "Something new happened.");
    expect((await toErrorResponse(plain, log, requestIn("en")).json()).error.message).toBe("Something new happened.");
    expect((await toErrorResponse(plain, log, requestIn("fr")).json()).error.message).toBe("Something new happened.");
    const both = new HttpError(409, "something_new", "Something new happened.", undefined, undefined, { fr: "Du nouveau." });
    expect((await toErrorResponse(both, log, requestIn("fr")).json()).error.message).toBe("Du nouveau.");
    expect((await toErrorResponse(both, log, requestIn("en")).json()).error.message).toBe("Something new happened.");
  });

  it("catalogue errors: French without Accept-Language or when French is preferred, English when English is", async () => {
    const err = httpError(413, "payload_too_large", { params: { kib: 64 } });
    expect(err.message).toBe("The body is larger than 64 KiB.");
    const message = async (req?: Request) => (await toErrorResponse(err, log, req).json()).error.message;
    expect(await message()).toBe("Le corps de la requête dépasse 64 Kio.");
    expect(await message(requestIn())).toBe("Le corps de la requête dépasse 64 Kio.");
    expect(await message(requestIn("fr-FR,fr;q=0.9,en;q=0.8"))).toBe("Le corps de la requête dépasse 64 Kio.");
    expect(await message(requestIn("en-GB,en;q=0.9,fr;q=0.5"))).toBe("The body is larger than 64 KiB.");
    expect(await message(requestIn("de-DE"))).toBe("Le corps de la requête dépasse 64 Kio.");
  });

  it("a 400's field problems carry a code each and a message in the request's language", async () => {
    const err = invalidFields({ email: { code: "required" }, "customer.firstName": { code: "unknown_field", params: { suggestion: "full_name" } } });
    const en = await toErrorResponse(err, log, requestIn("en")).json();
    expect(en).toEqual({
      error: {
        code: "invalid_input",
        message: "The request has invalid fields.",
        fields: { email: "is required", "customer.firstName": "is not a known field; did you mean full_name?" },
        codes: { email: "required", "customer.firstName": "unknown_field" },
      },
    });
    const fr = await toErrorResponse(err, log, requestIn("fr")).json();
    expect(fr.error.fields).toEqual({ email: "est obligatoire", "customer.firstName": "n'est pas un champ connu ; vouliez-vous dire full_name ?" });
    expect(fr.error.codes).toEqual(en.error.codes);
  });

  it("Accept-Language is negotiated by quality, then order; French by default", () => {
    expect(negotiateLocale(null)).toBe("fr");
    expect(negotiateLocale("")).toBe("fr");
    expect(negotiateLocale("en")).toBe("en");
    expect(negotiateLocale("EN-us")).toBe("en");
    expect(negotiateLocale("fr-CA, en")).toBe("fr");
    expect(negotiateLocale("en;q=0.5, fr;q=0.9")).toBe("fr");
    expect(negotiateLocale("de, en;q=0.5")).toBe("en");
    expect(negotiateLocale("en;q=0, de")).toBe("fr");
    expect(negotiateLocale("*")).toBe("fr");
    expect(negotiateLocale("en;q=abc")).toBe("fr");
  });

  it("a database that is restarting or dropped the connection is a 503 with Retry-After", async () => {
    for (const code of ["ECONNREFUSED", "EPIPE", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "57P01", "57P03", "08006"]) {
      const res = toErrorResponse(withCode(code), log);
      expect(res.status, code).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect((await res.json()).error.code).toBe("service_unavailable");
    }
  });

  it("anything else is a 500 that reveals nothing", async () => {
    const res = toErrorResponse(withCode("23505", 'duplicate key value violates unique constraint "secret_idx"'), log, requestIn("en"));
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toEqual({ error: { code: "internal_error", message: "Something went wrong on our side." } });
    const fr = await toErrorResponse(withCode("23505"), log).json();
    expect(fr).toEqual({ error: { code: "internal_error", message: "Une erreur s'est produite de notre côté." } });
  });
});

describe("the catalogues", () => {
  it("every top-level and field message exists in French and English, and they differ", async () => {
    const { ERROR_MESSAGES } = await import("../../src/i18n/error-messages.ts");
    const { FIELD_MESSAGES } = await import("../../src/i18n/field-messages.ts");
    const params = { kib: 64, seconds: 3, maximum: 5, minimum: 1, values: ["a", "b"], field: "f", value: "v", suggestion: "s" };
    for (const [key, t] of [...Object.entries(ERROR_MESSAGES), ...Object.entries(FIELD_MESSAGES)]) {
      const [fr, en] = [t.fr, t.en].map((x) => (typeof x === "string" ? x : x(params)));
      expect(fr, key).not.toBe("");
      expect(en, key).not.toBe("");
      expect(fr, key).not.toBe(en);
    }
  });
});
