import { HttpError, httpError } from "./http-error.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads the raw body with a hard size cap (counting bytes as they stream, not
 * trusting Content-Length alone), so an oversized body is refused without
 * being buffered whole.
 */
export async function readRawBody(req: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client went away mid-body (or the connection broke): its fault, not a 5xx, and nothing to log.
      throw new HttpError(400, "incomplete_body", "The body ended before it was complete.");
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export async function readJsonBody(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw httpError(415, "unsupported_media_type");
  }
  const raw = await readRawBody(req);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw invalidJson("utf8");
  }
  if (text.trim() === "") throw invalidJson("empty");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidJson("syntax");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidJson("not_object");
  }
  return value;
}

// Messages from the catalogue (src/i18n/error-messages.ts), in the visitor's language.
function tooLarge(limit: number) {
  return httpError(413, "payload_too_large", { params: { kib: limit / 1024 } });
}

function invalidJson(reason: "utf8" | "empty" | "syntax" | "not_object") {
  return httpError(400, "invalid_json", { params: { reason } });
}
