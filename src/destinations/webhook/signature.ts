/**
 * Standard Webhooks signatures (spec 1.0, "Signature scheme" and "Webhook
 * headers"): `v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<body>`,
 * keyed by the base64-decoded part of a `whsec_…` secret after the prefix.
 * Several secrets (a rotation) give several signatures, space-separated.
 * Web Crypto only: this runs under Deno (the functions) and Node (the tools).
 */

export const SECRET_PREFIX = "whsec_";
/** The spec: "Random. At least 24 bytes (192 bits)". */
export const MIN_SECRET_BYTES = 24;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The HMAC key of one `whsec_…` secret. Throws an Error naming `variable`
 * (never echoing the secret) when it is malformed.
 */
export function decodeSecret(secret: string, variable = "WEBHOOK_SECRET"): Uint8Array<ArrayBuffer> {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new Error(`${variable} must start with "${SECRET_PREFIX}" followed by the base64 key (Standard Webhooks secret format).`);
  }
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!b64 || !BASE64.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`${variable}: the part after "${SECRET_PREFIX}" must be standard base64 (A-Z a-z 0-9 + /, "=" padding to a multiple of 4 characters).`);
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    throw new Error(`${variable}: the part after "${SECRET_PREFIX}" is not valid base64.`);
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new Error(`${variable}: the key is ${bytes.length} bytes; Standard Webhooks requires at least ${MIN_SECRET_BYTES} (e.g. "${SECRET_PREFIX}" + \`openssl rand -base64 32\`).`);
  }
  return bytes;
}

/** Every secret of a WEBHOOK_SECRET value: one, or several separated by spaces during a rotation. */
export function parseSecrets(value: string, variable = "WEBHOOK_SECRET"): string[] {
  const secrets = value.trim().split(/\s+/).filter(Boolean);
  if (secrets.length === 0) throw new Error(`${variable} is empty.`);
  secrets.forEach((s, i) => decodeSecret(s, secrets.length > 1 ? `${variable} (secret ${i + 1} of ${secrets.length})` : variable));
  return secrets;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` (no `v1,` prefix). */
export async function sign(key: Uint8Array<ArrayBuffer>, id: string, timestamp: number, body: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return toBase64(new Uint8Array(mac));
}

/** The `webhook-signature` header: one `v1,<sig>` per secret, in the order given, space-separated. */
export async function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string): Promise<string> {
  const sigs = await Promise.all(secrets.map((s) => sign(decodeSecret(s), id, timestamp, body)));
  return sigs.map((s) => `v1,${s}`).join(" ");
}
