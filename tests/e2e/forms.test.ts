/**
 * The browser-facing functions, end to end: real Deno serving the real entry
 * files, real Postgres, called over HTTP and through supabase-js.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validSubmit } from "../../scripts/lib/sample-bodies.ts";
import { startTestStack, type TestStack } from "../helpers/test-stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

const counts = async () => {
  const [row] = await stack.db.sql<Record<string, number>[]>`
    select (select count(*)::int from leads) as leads, (select count(*)::int from customers) as customers,
           (select count(*)::int from requests) as requests, (select count(*)::int from callbacks) as callbacks,
           (select count(*)::int from payments) as payments, (select count(*)::int from crm_events) as events`;
  return row;
};


describe("form-start", () => {
  it("stores a normalised lead and answers its id (supabase-js invoke)", async () => {
    const { data, error } = await stack.supabase.functions.invoke("form-start", {
      body: { email: " Marie.Curie@Example.FR ", phone: "06 12 34 56 78", firstname: "Marie", connection_type: "provisoire" },
    });
    expect(error).toBeNull();
    expect(data.lead_id).toMatch(/^[0-9a-f-]{36}$/);
    const [lead] = await stack.db.sql`select * from leads where id = ${data.lead_id}`;
    expect(lead).toMatchObject({ email: "marie.curie@example.fr", phone: "+33612345678", firstname: "Marie", connection_type: "provisoire" });
  });

  it("updates the same lead when its lead_id is sent back", async () => {
    const first = await (await stack.call("form-start", { email: "a@example.fr" })).json();
    const again = await stack.call("form-start", { lead_id: first.lead_id, email: "a@example.fr", lastname: "Martin" });
    expect(again.status).toBe(200);
    expect((await again.json()).lead_id).toBe(first.lead_id);
    const rows = await stack.db.sql`select lastname from leads where id = ${first.lead_id}`;
    expect(rows).toEqual([{ lastname: "Martin" }]);
  });
});

describe("form-submit", () => {
  it("upserts the customer by email and stores the request as submitted / pending", async () => {
    const body = validSubmit("Repeat@Example.fr");
    const first = await (await stack.call("form-submit", body)).json();
    const second = await (await stack.call("form-submit", { ...body, customer: { ...body.customer, full_name: "Jean D." } })).json();
    expect(second.customer_id).toBe(first.customer_id);
    expect(second.request_id).not.toBe(first.request_id);
    const [customer] = await stack.db.sql`select * from customers where id = ${first.customer_id}`;
    expect(customer).toMatchObject({ email: "repeat@example.fr", full_name: "Jean D.", phone: "+33612345678" });
    const [request] = await stack.db.sql`select status, payment_status, power_kva::float8 as power_kva from requests where id = ${first.request_id}`;
    expect(request).toEqual({ status: "submitted", payment_status: "pending", power_kva: 12 });
  });

  it("links the request to a known lead, ignores an unknown one", async () => {
    const { lead_id } = await (await stack.call("form-start", { email: "l@example.fr" })).json();
    const linked = await (await stack.call("form-submit", { ...validSubmit(), lead_id })).json();
    const unknown = await (await stack.call("form-submit", { ...validSubmit(), lead_id: crypto.randomUUID() })).json();
    const rows = await stack.db.sql`select id, lead_id from requests where id in (${linked.request_id}, ${unknown.request_id})`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.lead_id]))).toEqual({
      [linked.request_id]: lead_id,
      [unknown.request_id]: null,
    });
  });
});

describe("contact-callback", () => {
  it("stores the callback with an E.164 phone", async () => {
    const res = await stack.call("contact-callback", { full_name: "Ana Lopez", phone: "+33 6 98 76 54 32", postal_code: "69001", source: "footer" });
    expect(res.status).toBe(200);
    const { callback_id } = await res.json();
    const [row] = await stack.db.sql`select full_name, phone, postal_code, source from callbacks where id = ${callback_id}`;
    expect(row).toEqual({ full_name: "Ana Lopez", phone: "+33698765432", postal_code: "69001", source: "footer" });
  });
});

describe("the HTTP shell", () => {
  const expectError = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    const body = await res.json();
    expect(body.error).toMatchObject({ code, message: expect.any(String) });
    return body.error;
  };

  const badSubmit = { customer: { email: "x", client_type: "professionnel" }, request: { type_raccordement: "solaire", power_kva: 300 } };

  it("400 names each bad field with a code, in French without Accept-Language, and writes nothing", async () => {
    const before = await counts();
    const error = await expectError(await stack.call("form-submit", badSubmit), 400, "invalid_input");
    expect(error).toEqual({
      code: "invalid_input",
      message: "Certains champs ne sont pas valides.",
      fields: {
        "customer.email": "doit être une adresse e-mail valide",
        "customer.phone": "est obligatoire",
        "customer.full_name": "est obligatoire",
        "customer.siren": "est obligatoire quand client_type vaut professionnel",
        "request.type_raccordement": expect.stringContaining("doit valoir l'une de ces valeurs"),
        "request.address": "est obligatoire",
        "request.city": "est obligatoire",
        "request.zip_code": "est obligatoire",
        "request.power_kva": "doit être au plus 250",
      },
      codes: {
        "customer.email": "invalid_format",
        "customer.phone": "required",
        "customer.full_name": "required",
        "customer.siren": "required",
        "request.type_raccordement": "not_allowed_value",
        "request.address": "required",
        "request.city": "required",
        "request.zip_code": "required",
        "request.power_kva": "too_large",
      },
    });
    expect(await counts()).toEqual(before);
  });

  it("messages follow Accept-Language (French preferred or by default, English when preferred); codes do not change", async () => {
    const answer = async (acceptLanguage: string) => {
      const res = await stack.call("form-submit", badSubmit, { headers: { "accept-language": acceptLanguage } });
      expect(res.headers.get("content-language")).toBe(acceptLanguage.startsWith("en") ? "en" : "fr");
      return (await expectError(res, 400, "invalid_input")) as { message: string; fields: Record<string, string>; codes: Record<string, string> };
    };
    const fr = await answer("fr-FR,fr;q=0.9,en;q=0.8");
    const en = await answer("en-US,en;q=0.9,fr;q=0.5");
    expect(fr.message).toBe("Certains champs ne sont pas valides.");
    expect(en.message).toBe("The request has invalid fields.");
    expect(en.fields).toMatchObject({
      "customer.email": "must be a valid email address",
      "customer.phone": "is required",
      "request.type_raccordement": expect.stringContaining("must be one of"),
      "request.power_kva": "must be at most 250",
    });
    expect(en.codes).toEqual(fr.codes);
    expect(Object.keys(en.fields)).toEqual(Object.keys(en.codes));
    // The shell's own errors too.
    const json = async (h: string) => (await (await stack.call("form-start", "{not json", { headers: { "accept-language": h } })).json()).error.message;
    expect(await json("fr")).toBe("Le corps de la requête n'est pas du JSON valide.");
    expect(await json("en")).toBe("The body is not valid JSON.");
  });

  it("unknown fields: 400 unknown_field naming each (nested too), suggesting the near miss; nothing written", async () => {
    const before = await counts();
    const res = await stack.call("form-start", { email: "a@b.fr", firstName: "Marie", colour: "blue" }, { headers: { "accept-language": "en" } });
    expect(await expectError(res, 400, "invalid_input")).toMatchObject({
      fields: { firstName: "is not a known field; did you mean firstname?", colour: "is not a known field" },
      codes: { firstName: "unknown_field", colour: "unknown_field" },
    });
    const body = validSubmit();
    const nested = await stack.call("form-submit", { ...body, customer: { ...body.customer, fullName: "Jean" }, request: { ...body.request, zipcode: "75001" } });
    expect(await expectError(nested, 400, "invalid_input")).toMatchObject({
      fields: {
        "customer.fullName": "n'est pas un champ connu ; vouliez-vous dire full_name ?",
        "request.zipcode": "n'est pas un champ connu ; vouliez-vous dire zip_code ?",
      },
      codes: { "customer.fullName": "unknown_field", "request.zipcode": "unknown_field" },
    });
    const payment = await stack.call("create-payment-intent", { request_id: crypto.randomUUID(), requestId: "x", amount: 1 });
    expect((await expectError(payment, 400, "invalid_input")).codes).toEqual({ requestId: "unknown_field", amount: "unknown_field" });
    expect(await counts()).toEqual(before);
  });

  it("the honeypot field left empty is known on the three forms", async () => {
    const { validCallback, validLead } = await import("../../scripts/lib/sample-bodies.ts");
    for (const [name, body] of [["form-start", validLead()], ["form-submit", validSubmit()], ["contact-callback", validCallback()]] as const) {
      const res = await stack.call(name, { ...body, website: "" });
      expect(res.status, name).toBe(200);
    }
  });

  it("broken JSON, non-objects, huge and hostile strings: 4xx with the error shape, nothing written", async () => {
    const before = await counts();
    await expectError(await stack.call("form-start", "{not json"), 400, "invalid_json");
    await expectError(await stack.call("form-start", "[1,2]"), 400, "invalid_json");
    await expectError(await stack.call("form-start", "null"), 400, "invalid_json");
    await expectError(await stack.call("form-start", ""), 400, "invalid_json");
    await expectError(await stack.call("form-start", { email: "a@b.fr", firstname: "x".repeat(5000) }), 400, "invalid_input");
    await expectError(await stack.call("form-start", { email: "a@b.fr'); drop table leads; --" }), 400, "invalid_input");
    await expectError(await stack.call("contact-callback", { full_name: "<script>alert(1)</script>", phone: "'; select 1; --" }), 400, "invalid_input");
    await expectError(await stack.call("form-start", { email: 42 }), 400, "invalid_input");
    expect(await counts()).toEqual(before);
  });

  it("edge values found by fuzzing: tiny power_kva is stored exactly, a lone surrogate is a 400", async () => {
    const body = validSubmit();
    (body.request as Record<string, unknown>).power_kva = 5e-324;
    const res = await stack.call("form-submit", body);
    expect(res.status).toBe(200);
    const [row] = await stack.db.sql`select power_kva from requests where id = ${(await res.json()).request_id}`;
    expect(row.power_kva).toBe(5e-324);
    const before = await counts();
    const bad = await stack.call("form-start", '{"email":"a@b.fr","lastname":"x\\udfff"}');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ fields: { lastname: "doit être un texte Unicode valide" }, codes: { lastname: "invalid_characters" } });
    expect(await counts()).toEqual(before);
  });

  it("SQL-looking text that is valid is stored as text", async () => {
    const res = await stack.call("form-start", { email: "o.brien@example.fr", lastname: "O'Brien; drop table leads" });
    expect(res.status).toBe(200);
    const [row] = await stack.db.sql`select lastname from leads where id = ${(await res.json()).lead_id}`;
    expect(row.lastname).toBe("O'Brien; drop table leads");
  });

  it("413 over 64 KiB, 415 without JSON, 405 for other methods", async () => {
    const before = await counts();
    await expectError(await stack.call("form-start", { email: "a@b.fr", pad: "x".repeat(70 * 1024) }), 413, "payload_too_large");
    await expectError(
      await stack.call("form-start", "email=a@b.fr", { headers: { "content-type": "application/x-www-form-urlencoded" } }),
      415,
      "unsupported_media_type",
    );
    const get = await fetch(`${stack.functionsUrl}/form-start`, { headers: { authorization: `Bearer ${stack.anonKey}` } });
    await expectError(get, 405, "method_not_allowed");
    expect(await counts()).toEqual(before);
  });

  it("a body just under 64 KiB is read", async () => {
    const res = await stack.call("form-start", `{"email": "big@example.fr"${" ".repeat(60 * 1024)}}`);
    expect(res.status).toBe(200);
  });

  it("answers CORS preflights for allowed origins, refuses unknown origins", async () => {
    const preflight = await fetch(`${stack.functionsUrl}/form-start`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("apikey");

    const foreign = await fetch(`${stack.functionsUrl}/form-start`, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    const before = await counts();
    await expectError(await stack.call("form-start", { email: "a@b.fr" }, { headers: { origin: "https://evil.example" } }), 403, "origin_not_allowed");
    expect(await counts()).toEqual(before);
  });

  it("the gateway emulation wants the anon key (401 otherwise)", async () => {
    const res = await fetch(`${stack.functionsUrl}/form-start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "a@b.fr" }),
    });
    expect(res.status).toBe(401);
    const viaApikey = await fetch(`${stack.functionsUrl}/form-start`, {
      method: "POST",
      headers: { "content-type": "application/json", apikey: stack.anonKey },
      body: JSON.stringify({ email: "apikey@example.fr" }),
    });
    expect(viaApikey.status).toBe(200);
  });
});
