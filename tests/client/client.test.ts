/**
 * The typed client against the real local stack (Deno-served functions,
 * Postgres, CRM sandbox, Stripe double), through supabase-js functions.invoke:
 * data on success, one typed error value otherwise — field messages, gateway
 * refusals, conflicts, network failures.
 */
import { createClient } from "@supabase/supabase-js";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRaccordementClient,
  errorFromResponse,
  type FormStartInput,
  type FormSubmitInput,
  type RaccordementClient,
  toClientError,
} from "../../src/client/index.ts";
import { validCallback, validLead as leadFixture, validSubmit as submitFixture } from "../../scripts/lib/sample-bodies.ts";
import { eventually, startTestStack, type TestStack } from "../helpers/test-stack.ts";

// The shared fixtures, with their enumerations typed as the client wants them.
const validLead = (): FormStartInput => ({ ...leadFixture(), connection_type: "photovoltaique" });
const validSubmit = (): FormSubmitInput => {
  const body = submitFixture();
  return { customer: { ...body.customer, client_type: "particulier" }, request: { ...body.request, type_raccordement: "definitif", phase: "monophase" } };
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let stack: TestStack;
let api: RaccordementClient;
beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_PER_MINUTE: "0" });
  api = createRaccordementClient(stack.supabase);
});
afterAll(async () => {
  await stack?.close();
});

const clientFor = (url: string, key: string) =>
  createRaccordementClient(
    createClient(url, key, { realtime: { transport: WebSocket as never }, auth: { persistSession: false, autoRefreshToken: false } }),
    { timeoutMs: 5_000 },
  );

describe("successful calls", () => {
  it("formStart stores the lead and answers its id; sending it back updates the same lead", async () => {
    const lead = validLead();
    const first = await api.formStart(lead);
    expect(first).toEqual({ ok: true, data: { lead_id: expect.stringMatching(UUID) } });
    if (!first.ok) return;
    // Only what is sent changes: null and "" mean "not given" and leave the stored value.
    const again = await api.formStart({ email: lead.email, lead_id: first.data.lead_id, lastname: "Sklodowska", phone: null, utm_source: "" });
    expect(again).toEqual(first);
    const rows = await stack.db.sql`select email, lastname, phone, utm_source from leads where id = ${first.data.lead_id}`;
    expect(rows).toEqual([{ email: lead.email, lastname: "Sklodowska", phone: "+33612345678", utm_source: "google" }]);
  });

  it("sends an Idempotency-Key per submission: a retry with the same key gets the first answer, nothing twice", async () => {
    const body = validSubmit();
    const key = crypto.randomUUID();
    const first = await api.formSubmit(body, { idempotencyKey: key });
    const retry = await api.formSubmit(body, { idempotencyKey: key });
    expect(retry).toEqual(first);
    const rows = await stack.db.sql`select 1 from requests where email = ${body.customer.email}`;
    expect(rows).toHaveLength(1);
    // Without a key given, every call is a new submission (a new key each time).
    await api.formSubmit(body);
    expect(await stack.db.sql`select 1 from requests where email = ${body.customer.email}`).toHaveLength(2);
    const keys = await stack.db.sql`select count(*)::int as n from idempotency_keys where function = 'form-submit'`;
    expect(keys[0].n).toBeGreaterThanOrEqual(2);
  });

  it("formSubmit, contactCallback and createPaymentIntent answer what their output schemas say", async () => {
    const started = await api.formStart(validLead());
    const submitted = await api.formSubmit({ ...validSubmit(), lead_id: started.ok ? started.data.lead_id : undefined });
    expect(submitted).toEqual({ ok: true, data: { request_id: expect.stringMatching(UUID), customer_id: expect.stringMatching(UUID) } });
    const callback = await api.contactCallback(validCallback());
    expect(callback).toEqual({ ok: true, data: { callback_id: expect.stringMatching(UUID) } });
    if (!submitted.ok) return;
    const payment = await api.createPaymentIntent({ request_id: submitted.data.request_id });
    expect(payment).toEqual({
      ok: true,
      data: { client_secret: expect.stringContaining("_secret_"), payment_intent_id: expect.stringMatching(/^pi_/), amount: 14900, currency: "eur" },
    });
  });

  it("what the client sent reaches the CRM sandbox", async () => {
    const lead = validLead();
    const res = await api.formStart(lead);
    expect(res.ok).toBe(true);
    await eventually(() => stack.crmSandbox!.accepted().some((a) => a.endpoint === "/leads" && (a.body as { email?: string }).email === lead.email));
  });

  it("passes the honeypot through: a filled `website` gets a plausible answer and nothing is stored", async () => {
    const lead = validLead();
    const res = await api.formStart({ ...lead, website: "http://spam.example" });
    expect(res).toEqual({ ok: true, data: { lead_id: expect.stringMatching(UUID) } });
    expect(await stack.db.sql`select id from leads where email = ${lead.email}`).toEqual([]);
    const human = await api.formStart({ ...validLead(), website: "" });
    expect(human.ok).toBe(true);
  });
});

describe("errors, as typed values", () => {
  const invalidSubmit = (): FormSubmitInput => ({
    customer: { email: "not-an-email", phone: "0612345678", full_name: "Jean", client_type: "professionnel" },
    request: { type_raccordement: "definitif", address: "1 rue", city: "Paris", zip_code: "750", power_kva: 300 },
  });
  const invalidCodes = {
    "customer.email": "invalid_format",
    "customer.siren": "required",
    "request.zip_code": "invalid_format",
    "request.power_kva": "too_large",
  };

  it("invalid input: 400 invalid_input with each field's message and code (French by default), nothing stored", async () => {
    const before = await stack.db.sql`select count(*)::int as n from requests`;
    const res = await api.formSubmit(invalidSubmit());
    expect(res).toEqual({
      ok: false,
      error: {
        status: 400,
        code: "invalid_input",
        message: "Certains champs ne sont pas valides.",
        fields: {
          "customer.email": "doit être une adresse e-mail valide",
          "customer.siren": "est obligatoire quand client_type vaut professionnel",
          "request.zip_code": "doit comporter 5 chiffres",
          "request.power_kva": "doit être au plus 250",
        },
        codes: invalidCodes,
      },
    });
    expect(await stack.db.sql`select count(*)::int as n from requests`).toEqual(before);
  });

  it("the locale option chooses the language (Accept-Language); the codes stay the same", async () => {
    const en = createRaccordementClient(stack.supabase, { locale: "en" });
    expect(await en.formSubmit(invalidSubmit())).toEqual({
      ok: false,
      error: {
        status: 400,
        code: "invalid_input",
        message: "The request has invalid fields.",
        fields: {
          "customer.email": "must be a valid email address",
          "customer.siren": "is required when client_type is professionnel",
          "request.zip_code": "must be 5 digits",
          "request.power_kva": "must be at most 250",
        },
        codes: invalidCodes,
      },
    });
    const fr = createRaccordementClient(stack.supabase, { locale: "fr" });
    expect(await fr.createPaymentIntent({ request_id: crypto.randomUUID() })).toMatchObject({
      ok: false,
      error: { status: 404, code: "request_not_found", message: "Aucune demande ne correspond à cet identifiant." },
    });
  });

  it("an unknown field (a typo the types would catch) is named, with the known field suggested", async () => {
    const res = await api.contactCallback({ ...validCallback(), postalCode: "69001" } as never);
    expect(res).toMatchObject({
      ok: false,
      error: { status: 400, code: "invalid_input", fields: { postalCode: "n'est pas un champ connu ; vouliez-vous dire postal_code ?" }, codes: { postalCode: "unknown_field" } },
    });
  });

  it("unknown and already-paid requests: 404 request_not_found, 409 already_paid", async () => {
    const unknown = await api.createPaymentIntent({ request_id: crypto.randomUUID() });
    expect(unknown).toMatchObject({ ok: false, error: { status: 404, code: "request_not_found" } });
    const submitted = await api.formSubmit(validSubmit());
    if (!submitted.ok) throw new Error("form-submit failed");
    const payment = await api.createPaymentIntent({ request_id: submitted.data.request_id });
    if (!payment.ok) throw new Error("create-payment-intent failed");
    await stack.stripeDouble!.sendEvent("payment_intent.succeeded", payment.data.payment_intent_id);
    const again = await api.createPaymentIntent({ request_id: submitted.data.request_id });
    expect(again).toMatchObject({ ok: false, error: { status: 409, code: "already_paid", message: expect.any(String) } });
  });

  it("the gateway refusing the key: 401 unauthorized", async () => {
    const res = await clientFor(stack.functionsUrl.replace(/\/functions\/v1$/, ""), "not-the-anon-key").formStart(validLead());
    expect(res).toMatchObject({ ok: false, error: { status: 401, code: "unauthorized", message: expect.stringMatching(/anon key/) } });
  });

  it("no server at all: network_error with status 0", async () => {
    const res = await clientFor("http://127.0.0.1:9", stack.anonKey).contactCallback(validCallback());
    expect(res).toMatchObject({ ok: false, error: { status: 0, code: "network_error", message: expect.stringMatching(/No answer/) } });
  });

  it("a 2xx without the promised keys: unexpected_response", async () => {
    const fake = { functions: { invoke: async () => ({ data: { id: 1 }, error: null, response: new Response("{}") }) } };
    const res = await createRaccordementClient(fake as never).formStart({ email: "a@b.fr" });
    expect(res).toEqual({ ok: false, error: { status: 200, code: "unexpected_response", message: "form-start answered without lead_id." } });
  });
});

describe("error mapping (answers the local stack does not produce)", () => {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

  it("429 with Retry-After, and 503 from the functions' error shape", async () => {
    expect(await errorFromResponse(json(429, { error: { code: "rate_limited", message: "Too many requests; try again in 12 s." } }, { "retry-after": "12" }))).toEqual({
      status: 429,
      code: "rate_limited",
      message: "Too many requests; try again in 12 s.",
      retryAfterSeconds: 12,
    });
  });

  it("Supabase's gateway shapes and non-JSON bodies", async () => {
    expect(await errorFromResponse(json(401, { code: 401, message: "Invalid JWT" }))).toEqual({ status: 401, code: "unauthorized", message: "Invalid JWT" });
    expect(await errorFromResponse(json(404, { code: "NOT_FOUND", message: "Requested function was not found" }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await errorFromResponse(new Response("<html>Bad gateway</html>", { status: 502 }))).toEqual({
      status: 502,
      code: "internal_error",
      message: "The function answered HTTP 502.",
    });
  });

  it("relay and fetch errors from functions-js", async () => {
    const relay = Object.assign(new Error("Relay Error invoking the Edge Function"), { name: "FunctionsRelayError", context: new Response("", { status: 502 }) });
    expect(await toClientError(relay)).toMatchObject({ status: 502, code: "relay_error" });
    const fetchError = Object.assign(new Error("Failed to send a request to the Edge Function"), { name: "FunctionsFetchError", context: new TypeError("fetch failed") });
    expect(await toClientError(fetchError)).toMatchObject({ status: 0, code: "network_error", message: expect.stringContaining("fetch failed") });
  });
});
