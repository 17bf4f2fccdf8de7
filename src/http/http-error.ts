/**
 * The one error type that carries an HTTP answer. Anything thrown inside a
 * handler that is not an HttpError is a bug or an outage and becomes a 5xx in
 * `toErrorResponse`, the only place errors are turned into responses — and
 * the place where messages are put in the visitor's language.
 *
 * The code is what programs rely on; the message is rendered from the
 * catalogue (src/i18n/error-messages.ts) by code and `params`. A code the
 * catalogue lacks is shown with the text given here: `message` in English,
 * `fr` in French (English when absent). `new HttpError(status, code, englishMessage, fields?, headers?)`
 * keeps working; `httpError(status, code, {params})` uses the catalogue alone.
 */
import { errorMessage } from "../i18n/error-messages.ts";
import type { MessageParams } from "../i18n/params.ts";

/** Field path → message (prose, shown as given in every language). */
export type FieldErrors = Record<string, string>;

/** One field's problem: a stable code (`required`, `too_long`…) and what its message needs. */
export interface FieldIssue {
  code: string;
  params?: MessageParams;
}
/** Field path (`customer.email`) → its problem; rendered as `fields` + `codes`. */
export type FieldIssues = Record<string, FieldIssue>;

export interface HttpErrorOptions {
  /** Fills the catalogue's message (e.g. `{ seconds: 12 }`). */
  params?: MessageParams;
  /** The French text, for a code the catalogue lacks. */
  fr?: string;
  /** Field problems by code, rendered in the request's language. */
  issues?: FieldIssues;
}

export class HttpError extends Error {
  override name = "HttpError";
  /** The English text the thrower chose, shown to English readers instead of the catalogue's. */
  readonly en?: string;
  readonly params?: MessageParams;
  readonly fr?: string;
  readonly issues?: FieldIssues;
  constructor(
    readonly status: number,
    readonly code: string,
    message?: string,
    readonly fields?: FieldErrors,
    readonly headers?: Record<string, string>,
    options: HttpErrorOptions = {},
  ) {
    super(message ?? errorMessage(code, "en", options.params) ?? code);
    this.en = message;
    this.params = options.params;
    this.fr = options.fr;
    this.issues = options.issues;
  }
}

/** An HttpError whose message is the catalogue's, in every language: `httpError(413, "payload_too_large", { params: { kib: 64 } })`. */
export const httpError = (status: number, code: string, options: HttpErrorOptions & { headers?: Record<string, string> } = {}) =>
  new HttpError(status, code, undefined, undefined, options.headers, options);

export const invalidInput = (fields: FieldErrors, message?: string) => new HttpError(400, "invalid_input", message, fields);

/** A 400 naming each bad field with its code; messages come from the field catalogue. */
export const invalidFields = (issues: FieldIssues) => httpError(400, "invalid_input", { issues });
