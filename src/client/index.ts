/**
 * The website's typed client for the four browser-facing functions, on top of
 * supabase-js `functions.invoke` (which sends the anon key the gateway wants).
 * Published as `raccordement-backend/client`: JavaScript (ES2020 modules) with
 * type declarations that need nothing else, for any bundler and for `tsc`
 * with default settings. Build it with `npm run build:client` (→ dist/client/).
 *
 *   import { createClient } from "@supabase/supabase-js";
 *   import { createRaccordementClient } from "raccordement-backend/client";
 *
 *   const api = createRaccordementClient(createClient(SUPABASE_URL, SUPABASE_ANON_KEY), { locale: "fr" });
 *   const res = await api.formStart({ email, phone, connection_type: "definitif" });
 *   if (res.ok) leadId = res.data.lead_id;
 *   else if (res.error.fields) showFieldErrors(res.error.fields, res.error.codes);
 *   // fields: {"email": "doit être une adresse e-mail valide"}, codes: {"email": "invalid_format"}
 *
 * Options (`createRaccordementClient(supabase, options)`):
 *   - `timeoutMs` — time limit of one call in ms (default 15000); past it the
 *     call resolves to a `network_error` (status 0).
 *   - `locale` — `"fr"` or `"en"`: the language of `message` and `fields`,
 *     sent as `Accept-Language`. Without it the browser's own
 *     `Accept-Language` decides (French unless it prefers English).
 * Per call (`api.formStart(input, { signal })`): `signal`, an AbortSignal
 * that cancels the call (it then resolves to a `network_error`).
 *
 * Never throws for an HTTP or network failure: every call resolves to
 * `{ ok: true, data }` or `{ ok: false, error: { status, code, message, fields?, codes?, retryAfterSeconds? } }`.
 * `codes` (path → `required`, `invalid_format`, `too_long`, `unknown_field`…)
 * are the same in every language: use them to write your own wording.
 */
import { toClientError } from "./errors.ts";
import type {
  ContactCallbackInput,
  ContactCallbackOutput,
  CreatePaymentIntentInput,
  CreatePaymentIntentOutput,
  FormStartInput,
  FormStartOutput,
  FormSubmitInput,
  FormSubmitOutput,
  Locale,
  Result,
} from "./types.ts";

export type {
  ClientError,
  ClientType,
  ConnectionType,
  ContactCallbackInput,
  ContactCallbackOutput,
  CreatePaymentIntentInput,
  CreatePaymentIntentOutput,
  CustomerInput,
  FieldErrorCode,
  FormStartInput,
  FormStartOutput,
  FormSubmitInput,
  FormSubmitOutput,
  Honeypot,
  KnownErrorCode,
  Locale,
  Phase,
  RequestInput,
  Result,
} from "./types.ts";
export { errorFromResponse, toClientError } from "./errors.ts";

/** What the client needs of supabase-js's `functions.invoke` (the options it uses, the answer it reads). */
export interface FunctionsInvoker {
  invoke(
    functionName: string,
    options: { body: Record<string, unknown>; headers?: Record<string, string>; timeout?: number; signal?: AbortSignal },
  ): Promise<{ data: unknown; error: unknown; response?: Response }>;
}

/** Anything with supabase-js's `functions` (a `SupabaseClient` of any database type and version 2). */
export interface RaccordementSupabase {
  functions: FunctionsInvoker;
}

export interface ClientOptions {
  /** Per-call time limit in ms (default 15000); a timeout is a `network_error`. */
  timeoutMs?: number;
  /** The language of the messages (`Accept-Language`); by default the browser's, French unless it prefers English. */
  locale?: Locale;
}

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * The form functions' Idempotency-Key. Each call sends a new one
   * (crypto.randomUUID()) unless given: pass the same key again to retry a
   * submission whose answer was lost, and the first answer comes back with
   * nothing written twice.
   */
  idempotencyKey?: string;
}

export interface RaccordementClient {
  /** Step 1: captures the lead. Send the returned `lead_id` back to update the same lead. */
  formStart(input: FormStartInput, opts?: CallOptions): Promise<Result<FormStartOutput>>;
  /** Final step: the complete request (customer upserted by email). */
  formSubmit(input: FormSubmitInput, opts?: CallOptions): Promise<Result<FormSubmitOutput>>;
  /** "Call me back". */
  contactCallback(input: ContactCallbackInput, opts?: CallOptions): Promise<Result<ContactCallbackOutput>>;
  /** Starts paying for a request: the amount is the server's; confirm `client_secret` with Stripe.js. */
  createPaymentIntent(input: CreatePaymentIntentInput, opts?: CallOptions): Promise<Result<CreatePaymentIntentOutput>>;
}

export const FUNCTION_NAMES = {
  formStart: "form-start",
  formSubmit: "form-submit",
  contactCallback: "contact-callback",
  createPaymentIntent: "create-payment-intent",
} as const;

/** The keys (and their primitive types) each answer must have: a light check, no zod in the browser. */
type Shape<T> = { [K in keyof T]-?: "string" | "number" };
const shape = <T>(s: Shape<T>): Record<string, "string" | "number"> => s;
const EXPECTED: { [K in keyof RaccordementClient]: Record<string, "string" | "number"> } = {
  formStart: shape<FormStartOutput>({ lead_id: "string" }),
  formSubmit: shape<FormSubmitOutput>({ request_id: "string", customer_id: "string" }),
  contactCallback: shape<ContactCallbackOutput>({ callback_id: "string" }),
  createPaymentIntent: shape<CreatePaymentIntentOutput>({
    client_secret: "string",
    payment_intent_id: "string",
    amount: "number",
    currency: "string",
  }),
};

export function createRaccordementClient(supabase: RaccordementSupabase, options: ClientOptions = {}): RaccordementClient {
  const timeout = options.timeoutMs ?? 15_000;
  const languageHeader: Record<string, string> = options.locale ? { "accept-language": options.locale } : {};

  async function call<T>(method: keyof RaccordementClient, body: object, opts: CallOptions = {}): Promise<Result<T>> {
    let data: unknown;
    let error: unknown;
    let response: Response | undefined;
    const headers: Record<string, string> = { ...languageHeader };
    if (method !== "createPaymentIntent") headers["Idempotency-Key"] = opts.idempotencyKey ?? crypto.randomUUID();
    try {
      ({ data, error, response } = await supabase.functions.invoke(FUNCTION_NAMES[method], {
        body: body as Record<string, unknown>,
        ...(headers ? { headers } : {}),
        timeout,
        signal: opts.signal,
      }));
    } catch (thrown) {
      error = thrown;
    }
    if (error) return { ok: false, error: await toClientError(error, response) };
    const record = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : undefined;
    const wrong = Object.entries(EXPECTED[method]).filter(([key, type]) => typeof record?.[key] !== type);
    if (!record || wrong.length > 0) {
      return {
        ok: false,
        error: {
          status: response?.status ?? 200,
          code: "unexpected_response",
          message: `${FUNCTION_NAMES[method]} answered without ${wrong.map(([k]) => k).join(", ") || "a JSON object"}.`,
        },
      };
    }
    return { ok: true, data: record as T };
  }

  return {
    formStart: (input, opts) => call<FormStartOutput>("formStart", input, opts),
    formSubmit: (input, opts) => call<FormSubmitOutput>("formSubmit", input, opts),
    contactCallback: (input, opts) => call<ContactCallbackOutput>("contactCallback", input, opts),
    createPaymentIntent: (input, opts) => call<CreatePaymentIntentOutput>("createPaymentIntent", input, opts),
  };
}
