/**
 * The one error type that carries an HTTP answer. Anything thrown inside a
 * handler that is not an HttpError is a bug or an outage and becomes a 5xx in
 * `toErrorResponse`, the only place errors are turned into responses.
 */
export type FieldErrors = Record<string, string>;

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldErrors,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const invalidInput = (fields: FieldErrors, message = "The request has invalid fields.") =>
  new HttpError(400, "invalid_input", message, fields);
