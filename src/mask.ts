/**
 * Masks personal data before it reaches a log line: emails keep their first
 * character and domain's TLD, phones their last two digits. Secrets (keys,
 * tokens) are removed by name.
 */
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+\.)*([A-Za-z]{2,})/g;
// A run of 8+ digits, optionally with +, spaces, dots or dashes inside: phones, not uuids.
const PHONE = /(?<![\w-])\+?\d(?:[\s.-]?\d){7,}(?![\w-])/g;
const SECRET_KEYS = /(key|secret|token|password|authorization|signature|client_secret)/i;

export function maskEmail(value: string): string {
  return value.replace(EMAIL, (_m, first: string, _d: string, tld: string) => `${first}***@***.${tld}`);
}

export function maskPhone(value: string): string {
  return value.replace(PHONE, (m) => {
    const digits = m.replace(/\D/g, "");
    return `${m.startsWith("+") ? "+" : ""}***${digits.slice(-2)}`;
  });
}

export function maskText(value: string): string {
  return maskPhone(maskEmail(value));
}

/** Deep copy of `value` that is safe to log. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[…]";
  if (typeof value === "string") return maskText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEYS.test(k) ? "[redacted]" : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}
