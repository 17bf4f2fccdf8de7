/**
 * The fuzzers' oracle: what the contract (docs/CONTRACT.md §2) says a public
 * function must answer for a given raw request, decided without the server.
 * Validity of a parsed body is decided by the product's own schemas
 * (`safeParse`), so the properties check that the HTTP behaviour matches them.
 */
import type { z } from "zod";

export const MAX_BODY_BYTES = 64 * 1024;
/** The field codes the contract (docs/CONTRACT.md §2) lets a 400 carry. */
const FIELD_CODES = [
  "required", "invalid_type", "too_long", "too_short", "too_small", "too_large",
  "invalid_format", "invalid_characters", "not_allowed_value", "unknown_field",
];
const JSON_TYPE = /^application\/json\s*(;|$)/i;

export type Expected<T> =
  | { kind: "valid"; data: T }
  | { kind: "invalid"; status: 400 | 413 | 415; code: string; paths?: string[] };

/** A request as the fuzzers send it: raw bytes and a content type. */
export interface RawRequest {
  bytes: Uint8Array;
  contentType: string;
}

/** Decodes the body the way the contract describes it: UTF-8 JSON object, at most 64 KiB. */
export function decodeJsonObject(req: RawRequest): { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; code: string } {
  // Header values travel without surrounding whitespace (fetch strips it).
  if (!JSON_TYPE.test(req.contentType.replace(/^[\t ]+|[\t ]+$/g, ""))) return { ok: false, status: 415, code: "unsupported_media_type" };
  if (req.bytes.byteLength > MAX_BODY_BYTES) return { ok: false, status: 413, code: "payload_too_large" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(req.bytes);
  } catch {
    return { ok: false, status: 400, code: "invalid_json" };
  }
  if (text.trim() === "") return { ok: false, status: 400, code: "invalid_json" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, code: "invalid_json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, status: 400, code: "invalid_json" };
  return { ok: true, value };
}

export function expectedOutcome<S extends z.ZodType>(schema: S, req: RawRequest): Expected<z.output<S>> {
  const decoded = decodeJsonObject(req);
  if (!decoded.ok) return { kind: "invalid", status: decoded.status, code: decoded.code };
  const parsed = schema.safeParse(decoded.value);
  if (parsed.success) return { kind: "valid", data: parsed.data };
  // An unknown key (strict objects) is named by its own path, the object's path plus the key.
  const paths = parsed.error.issues.flatMap((i) =>
    (i.code === "unrecognized_keys" ? i.keys.map((k) => [...i.path, k]) : [i.path]).map((p) => p.map(String).join(".") || "body")
  );
  return { kind: "invalid", status: 400, code: "invalid_input", paths };
}

/** The error shape every 4xx/5xx answer must have: {"error": {"code", "message", "fields"?, "codes"?}}, a code for each field. */
export function errorShapeProblem(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return "body is not an object";
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return "no error object";
  const { code, message, fields, codes } = error as Record<string, unknown>;
  if (typeof code !== "string" || code === "") return "error.code is not a non-empty string";
  if (typeof message !== "string" || message === "") return "error.message is not a non-empty string";
  if (fields !== undefined) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return "error.fields is not an object";
    for (const [k, v] of Object.entries(fields)) if (typeof v !== "string") return `error.fields["${k}"] is not a string`;
  }
  if (code === "invalid_input") {
    if (typeof codes !== "object" || codes === null || Array.isArray(codes)) return "a 400 invalid_input without error.codes";
    const fieldKeys = Object.keys(fields ?? {}).sort().join("\n");
    if (Object.keys(codes).sort().join("\n") !== fieldKeys) return "error.codes does not name the same paths as error.fields";
    for (const [k, v] of Object.entries(codes)) if (!FIELD_CODES.includes(v as never)) return `error.codes["${k}"] is not a field code: ${String(v)}`;
  }
  return null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: unknown): v is string => typeof v === "string" && UUID.test(v);
