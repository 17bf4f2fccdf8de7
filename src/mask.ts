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

/** Field names whose values are personal data when a vendor echoes them back (JSON or key=value). */
const PERSONAL_FIELD = /(name|first_?name|last_?name|full_?name|company|company_?name|address|street|city|zip|zip_?code|postal_?code|postcode|siren|siret|email|phone|mobile|tel)/i;
const QUOTED_FIELD = /("([A-Za-z_]+)"\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
const BARE_FIELD = /(\b([A-Za-z_]+)\s*[=:]\s*)([^,;&\s"{}[\]][^,;&"{}[\]]*)/g;

/**
 * An excerpt of a vendor's error body made safe to log and store: every
 * `knownValues` entry (the personal data the request sent: names, company,
 * address…) masked wherever it appears, whole or word by word (3+ letters),
 * values of personal-looking fields (`"lastName": "…"`, `city=…`) masked,
 * then emails and phones as in maskText. Free text naming someone the request
 * did not send cannot be recognised; pass every personal value you sent.
 */
export function maskErrorExcerpt(text: string, knownValues: ReadonlyArray<string | null | undefined> = []): string {
  const needles = new Set<string>();
  for (const value of knownValues) {
    const v = value?.trim();
    if (!v) continue;
    needles.add(v);
    for (const word of v.split(/[\s,.'’()-]+/)) if (word.length >= 3) needles.add(word);
  }
  let out = text;
  // Longest first, so a whole value is masked before its words.
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(escapeRegExp(needle), "gi"), "***");
  }
  out = out.replace(QUOTED_FIELD, (m, head: string, key: string) => (PERSONAL_FIELD.test(key) ? `${head}"***"` : m));
  out = out.replace(BARE_FIELD, (m, head: string, key: string) => (PERSONAL_FIELD.test(key) ? `${head}***` : m));
  return maskText(out);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
