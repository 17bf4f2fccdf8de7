/**
 * The website client's types, derived from the zod schemas the functions
 * validate with (src/validation/schemas.ts): types only, so the client ships
 * no zod and no validation code to the browser.
 */
import type { z } from "zod";
import type {
  ContactCallbackInput as ContactCallbackInputSchema,
  ContactCallbackOutput as ContactCallbackOutputSchema,
  CreatePaymentIntentInput as CreatePaymentIntentInputSchema,
  CreatePaymentIntentOutput as CreatePaymentIntentOutputSchema,
  FormStartInput as FormStartInputSchema,
  FormStartOutput as FormStartOutputSchema,
  FormSubmitInput as FormSubmitInputSchema,
  FormSubmitOutput as FormSubmitOutputSchema,
} from "../validation/schemas.ts";

/**
 * `z.input` of a schema, with its optional fields made precise: they are
 * preprocessed (blank or null → absent), so zod types their input as
 * `unknown`; here such a field takes what the schema produces, or null.
 * Required fields keep zod's input type (e.g. the enumerations).
 */
export type SchemaInput<S extends z.ZodType> = Precise<z.input<S>, z.output<S>>;

type Precise<I, O> = I extends readonly unknown[]
  ? I
  : I extends object
    ? {
        [K in keyof I]: unknown extends I[K]
          ? (K extends keyof O ? O[K] : never) | null | undefined
          : Precise<I[K], K extends keyof O ? NonNullable<O[K]> : never>;
      }
    : I;

/**
 * The honeypot: a form field people never see (visually hidden, "Leave this
 * empty"), that bots fill in. Pass the input's value through untouched; real
 * visitors leave it empty, and a filled one gets a plausible answer while
 * nothing is stored.
 */
export interface Honeypot {
  website?: string;
}

export type FormStartInput = SchemaInput<typeof FormStartInputSchema> & Honeypot;
export type FormSubmitInput = SchemaInput<typeof FormSubmitInputSchema> & Honeypot;
export type ContactCallbackInput = SchemaInput<typeof ContactCallbackInputSchema> & Honeypot;
export type CreatePaymentIntentInput = SchemaInput<typeof CreatePaymentIntentInputSchema>;

export type FormStartOutput = z.output<typeof FormStartOutputSchema>;
export type FormSubmitOutput = z.output<typeof FormSubmitOutputSchema>;
export type ContactCallbackOutput = z.output<typeof ContactCallbackOutputSchema>;
export type CreatePaymentIntentOutput = z.output<typeof CreatePaymentIntentOutputSchema>;

/** The codes the functions answer with (docs/CONTRACT.md §2), plus the client's own. */
export type KnownErrorCode =
  | "invalid_input"
  | "invalid_json"
  | "payload_too_large"
  | "unsupported_media_type"
  | "method_not_allowed"
  | "origin_not_allowed"
  | "unauthorized"
  | "rate_limited"
  | "request_not_found"
  | "already_paid"
  | "payment_provider_error"
  | "payments_unavailable"
  | "service_unavailable"
  | "internal_error"
  /** No answer at all: offline, DNS, CORS refused, timeout (status 0). */
  | "network_error"
  /** Supabase's relay could not reach the function. */
  | "relay_error"
  /** A 2xx whose body is not what the contract promises, or an error body without the contract's shape. */
  | "unexpected_response";

export interface ClientError {
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  code: KnownErrorCode | (string & {});
  /** Human-readable, safe to show (the functions' own message). */
  message: string;
  /** For `invalid_input`: dotted field path (`customer.email`) → what is wrong with it. */
  fields?: Record<string, string>;
  /** For 429 and 503: seconds to wait before trying again, when the answer said (and CORS let the browser read it). */
  retryAfterSeconds?: number;
}

export type Result<T> = { ok: true; data: T } | { ok: false; error: ClientError };
