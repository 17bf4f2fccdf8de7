/**
 * The client's types are the functions' zod schemas: inputs accept what the
 * schemas accept (optional fields precise, not `unknown`), outputs are what
 * they promise, errors are one typed value. The client writes its types out
 * (its declarations ship without zod); here they are compared with the types
 * derived from the schemas. Checked by tsc (npm test runs it) and by vitest's
 * expectTypeOf. Imported the way the website does, through the package's
 * "exports" entry (the built declarations, dist/client/: `npm run build:client`).
 */
import type { createClient, SupabaseClient } from "@supabase/supabase-js";
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import {
  type ClientError,
  type ContactCallbackInput,
  type ContactCallbackOutput,
  type CreatePaymentIntentInput,
  type CreatePaymentIntentOutput,
  type FieldErrorCode,
  createRaccordementClient,
  type FormStartInput,
  type FormStartOutput,
  type FormSubmitInput,
  type FormSubmitOutput,
  type RaccordementClient,
  type Result,
} from "raccordement-backend/client";
import type * as Schemas from "../../src/validation/schemas.ts";
import type { ConnectionType } from "../../src/validation/enums.ts";
import type { FIELD_CODES } from "../../src/i18n/field-messages.ts";

/**
 * `z.input` of a schema, with its optional fields made precise: they are
 * preprocessed (blank or null → absent), so zod types their input as
 * `unknown`; here such a field takes what the schema produces, or null.
 * Required fields keep zod's input type (e.g. the enumerations).
 */
type SchemaInput<S extends z.ZodType> = Precise<z.input<S>, z.output<S>>;
type Precise<I, O> = I extends readonly unknown[]
  ? I
  : I extends object
    ? {
        [K in keyof I]: unknown extends I[K]
          ? (K extends keyof O ? O[K] : never) | null | undefined
          : Precise<I[K], K extends keyof O ? NonNullable<O[K]> : never>;
      }
    : I;
type Honeypot = { website?: string };
/** The form's schema input and the honeypot, as one object type. */
type WithHoneypot<S extends z.ZodType> = { [K in keyof (SchemaInput<S> & Honeypot)]: (SchemaInput<S> & Honeypot)[K] };

describe("client types", () => {
  it("inputs are exactly the input schemas' (plus the honeypot on the forms)", () => {
    expectTypeOf<FormStartInput>().toEqualTypeOf<WithHoneypot<typeof Schemas.FormStartInput>>();
    expectTypeOf<FormSubmitInput>().toEqualTypeOf<WithHoneypot<typeof Schemas.FormSubmitInput>>();
    expectTypeOf<ContactCallbackInput>().toEqualTypeOf<WithHoneypot<typeof Schemas.ContactCallbackInput>>();
    expectTypeOf<CreatePaymentIntentInput>().toEqualTypeOf<SchemaInput<typeof Schemas.CreatePaymentIntentInput>>();
    expectTypeOf<FormSubmitOutput>().toEqualTypeOf<z.output<typeof Schemas.FormSubmitOutput>>();
    expectTypeOf<ContactCallbackOutput>().toEqualTypeOf<z.output<typeof Schemas.ContactCallbackOutput>>();
    expectTypeOf<CreatePaymentIntentOutput>().toEqualTypeOf<z.output<typeof Schemas.CreatePaymentIntentOutput>>();
  });

  it("field codes are the server's", () => {
    expectTypeOf<FieldErrorCode>().toEqualTypeOf<(typeof FIELD_CODES)[number]>();
    expectTypeOf<ClientError["codes"]>().toEqualTypeOf<Record<string, FieldErrorCode | (string & {})> | undefined>();
  });

  it("outputs are the functions' output schemas", () => {
    expectTypeOf<FormStartOutput>().toEqualTypeOf<z.output<typeof Schemas.FormStartOutput>>();
    expectTypeOf<FormStartOutput>().toEqualTypeOf<{ lead_id: string }>();
    expectTypeOf<FormSubmitOutput>().toEqualTypeOf<{ request_id: string; customer_id: string }>();
    expectTypeOf<CreatePaymentIntentOutput>().toEqualTypeOf<{ client_secret: string; payment_intent_id: string; amount: number; currency: string }>();
  });

  it("inputs follow the input schemas: required fields required, enumerations exact, optional fields typed", () => {
    expectTypeOf<FormStartInput["email"]>().toEqualTypeOf<string>();
    expectTypeOf<FormStartInput["connection_type"]>().toEqualTypeOf<ConnectionType | null | undefined>();
    expectTypeOf<FormStartInput["phone"]>().toEqualTypeOf<string | null | undefined>();
    expectTypeOf<FormStartInput["website"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<FormSubmitInput["customer"]["client_type"]>().toEqualTypeOf<"particulier" | "professionnel" | "collectivite">();
    expectTypeOf<FormSubmitInput["request"]["power_kva"]>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf<FormSubmitInput["request"]["is_viabilise"]>().toEqualTypeOf<boolean | null | undefined>();
    expectTypeOf<ContactCallbackInput>().toHaveProperty("full_name").toEqualTypeOf<string>();
    // Every key of the schema is a key of the client input, and nothing else but the honeypot.
    expectTypeOf<Exclude<keyof FormStartInput, "website">>().toEqualTypeOf<keyof z.input<typeof Schemas.FormStartInput>>();
    expectTypeOf<Exclude<keyof FormSubmitInput["customer"], never>>().toEqualTypeOf<keyof z.output<typeof Schemas.CustomerInput>>();
  });

  it("rejects what the functions would refuse, at compile time", () => {
    const api = {} as RaccordementClient;
    const never = () => {
      // @ts-expect-error email is required
      void api.formStart({ phone: "0612345678" });
      // @ts-expect-error not a connection type
      void api.formStart({ email: "a@b.fr", connection_type: "solaire" });
      // @ts-expect-error power_kva is a number
      void api.formSubmit({ customer: { email: "a@b.fr", phone: "1", full_name: "A", client_type: "particulier" }, request: { type_raccordement: "definitif", address: "a", city: "c", zip_code: "75001", power_kva: "12" } });
      // @ts-expect-error request_id is required
      void api.createPaymentIntent({});
    };
    expectTypeOf(never).toBeFunction();
  });

  it("every call resolves to ok + data, or ok: false + a typed error with field messages", () => {
    expectTypeOf<RaccordementClient["formStart"]>().returns.resolves.toEqualTypeOf<Result<FormStartOutput>>();
    expectTypeOf<RaccordementClient["formSubmit"]>().returns.resolves.toEqualTypeOf<Result<FormSubmitOutput>>();
    expectTypeOf<ClientError["fields"]>().toEqualTypeOf<Record<string, string> | undefined>();
    expectTypeOf<ClientError["status"]>().toBeNumber();
    const handle = (res: Result<FormStartOutput>) => {
      if (res.ok) expectTypeOf(res.data.lead_id).toBeString();
      else expectTypeOf(res.error.code).toMatchTypeOf<string>();
    };
    expectTypeOf(handle).toBeFunction();
  });

  it("takes the SupabaseClient a website makes, whatever its database type", () => {
    type Typed = ReturnType<typeof createClient<{ public: { Tables: {}; Views: {}; Functions: {} } }>>;
    expectTypeOf(createRaccordementClient).toBeCallableWith({} as Typed);
    expectTypeOf(createRaccordementClient).toBeCallableWith({} as SupabaseClient);
    expectTypeOf(createRaccordementClient).toBeCallableWith({} as SupabaseClient, { timeoutMs: 5_000, locale: "en" });
    expectTypeOf(createRaccordementClient).returns.toEqualTypeOf<RaccordementClient>();
  });
});
