/**
 * The website client's types, written out in full so that the published
 * declarations need nothing but themselves (no zod, no server code).
 * tests/client/types.test.ts checks that they are exactly what the
 * functions' zod schemas (src/validation/schemas.ts) accept and answer.
 */

/** `connection_type` / `type_raccordement` (CONTRACT §2). */
export type ConnectionType = "definitif" | "provisoire" | "modification" | "augmentation_puissance" | "photovoltaique";
export type ClientType = "particulier" | "professionnel" | "collectivite";
export type Phase = "monophase" | "triphase";

/** An optional field: absent, `null` or blank all mean "not given". */
type Optional<T> = T | null | undefined;

/**
 * The honeypot: a form field people never see (visually hidden, "Leave this
 * empty"), that bots fill in. Pass the input's value through untouched; real
 * visitors leave it empty, and a filled one gets a plausible answer while
 * nothing is stored.
 */
export interface Honeypot {
  website?: string;
}

export interface FormStartInput extends Honeypot {
  /** The id a previous formStart answered: updates that lead instead of creating another. */
  lead_id?: Optional<string>;
  email: string;
  /** French or international (+…); stored as E.164. */
  phone?: Optional<string>;
  firstname?: Optional<string>;
  lastname?: Optional<string>;
  connection_type?: Optional<ConnectionType>;
  /** 5 digits. */
  postal_code?: Optional<string>;
  utm_source?: Optional<string>;
  utm_medium?: Optional<string>;
  utm_campaign?: Optional<string>;
}

export interface CustomerInput {
  email: string;
  phone: string;
  full_name: string;
  client_type: ClientType;
  company_name?: Optional<string>;
  /** 9 digits with a valid checksum; required when client_type is "professionnel". */
  siren?: Optional<string>;
}

export interface RequestInput {
  type_raccordement: ConnectionType;
  usage?: Optional<string>;
  address: string;
  city: string;
  /** 5 digits. */
  zip_code: string;
  phase?: Optional<Phase>;
  /** > 0 and ≤ 250. */
  power_kva?: Optional<number>;
  is_viabilise?: Optional<boolean>;
}

export interface FormSubmitInput extends Honeypot {
  lead_id?: Optional<string>;
  customer: CustomerInput;
  request: RequestInput;
}

export interface ContactCallbackInput extends Honeypot {
  full_name: string;
  phone: string;
  postal_code?: Optional<string>;
  source?: Optional<string>;
}

export interface CreatePaymentIntentInput {
  request_id: string;
}

export interface FormStartOutput {
  lead_id: string;
}
export interface FormSubmitOutput {
  request_id: string;
  customer_id: string;
}
export interface ContactCallbackOutput {
  callback_id: string;
}
export interface CreatePaymentIntentOutput {
  client_secret: string;
  payment_intent_id: string;
  /** Minor units (cents). */
  amount: number;
  currency: string;
}

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
  | "lead_not_found"
  | "already_paid"
  | "payment_in_progress"
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

/** What is wrong with one field of an `invalid_input` answer; the same in every language. */
export type FieldErrorCode =
  | "required"
  | "invalid_type"
  | "too_long"
  | "too_short"
  | "too_small"
  | "too_large"
  | "invalid_format"
  | "invalid_characters"
  | "not_allowed_value"
  | "unknown_field";

/** The languages the functions write their messages in. */
export type Locale = "fr" | "en";

export interface ClientError {
  /** HTTP status; 0 when no answer arrived. */
  status: number;
  code: KnownErrorCode | (string & {});
  /** Human-readable, safe to show: the functions' own message, in the client's `locale` (French by default). */
  message: string;
  /** For `invalid_input`: dotted field path (`customer.email`) → what is wrong with it, in the client's `locale`. */
  fields?: Record<string, string>;
  /** For `invalid_input`: dotted field path → a stable code (`required`, `too_long`, `unknown_field`…), to pick your own wording. */
  codes?: Record<string, FieldErrorCode | (string & {})>;
  /** For 429 and 503: seconds to wait before trying again, when the answer said (and CORS let the browser read it). */
  retryAfterSeconds?: number;
}

export type Result<T> = { ok: true; data: T } | { ok: false; error: ClientError };
