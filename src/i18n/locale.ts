/**
 * The language of the messages a visitor reads: French unless the request's
 * `Accept-Language` prefers English (RFC 9110 §12.5.4: quality values, then
 * order). Codes never change with the language; only the prose does.
 */
export const LOCALES = ["fr", "en"] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = "fr";

export function negotiateLocale(acceptLanguage: string | null | undefined): Locale {
  if (!acceptLanguage) return DEFAULT_LOCALE;
  let best: { locale: Locale; q: number } | undefined;
  for (const part of acceptLanguage.slice(0, 500).split(",")) {
    const [range, ...params] = part.trim().toLowerCase().split(";");
    const primary = range.trim().split("-")[0];
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const locale = (LOCALES as readonly string[]).includes(primary) ? (primary as Locale) : undefined;
    // Earlier entries win ties; `*` and unsupported languages leave the default.
    if (locale && (!best || q > best.q)) best = { locale, q };
  }
  return best?.locale ?? DEFAULT_LOCALE;
}
