/**
 * The catalogue of top-level error messages a visitor may see, by error code
 * (the code is the stable part; the text follows the request's language).
 * An HttpError whose code is here is shown in the visitor's language; one
 * whose code is not keeps the English (and optional French) text it was
 * thrown with.
 */
import type { Locale } from "./locale.ts";
import { fill, type MessageParams, type Translations } from "./params.ts";

const seconds = (p: MessageParams) => (p.seconds === undefined ? undefined : Number(p.seconds));

export const ERROR_MESSAGES: Record<string, Translations> = {
  invalid_input: {
    fr: "Certains champs ne sont pas valides.",
    en: "The request has invalid fields.",
  },
  invalid_json: {
    fr: (p) =>
      p.reason === "utf8" ? "Le corps de la requête n'est pas de l'UTF-8 valide."
      : p.reason === "empty" ? "Le corps de la requête est vide ; envoyez un objet JSON."
      : p.reason === "not_object" ? "Le corps de la requête doit être un objet JSON."
      : "Le corps de la requête n'est pas du JSON valide.",
    en: (p) =>
      p.reason === "utf8" ? "The body is not valid UTF-8."
      : p.reason === "empty" ? "The body is empty; send a JSON object."
      : p.reason === "not_object" ? "The body must be a JSON object."
      : "The body is not valid JSON.",
  },
  payload_too_large: {
    fr: (p) => `Le corps de la requête dépasse ${p.kib ?? 64} Kio.`,
    en: (p) => `The body is larger than ${p.kib ?? 64} KiB.`,
  },
  unsupported_media_type: {
    fr: "Envoyez le corps en JSON, avec Content-Type: application/json.",
    en: "Send the body as JSON with Content-Type: application/json.",
  },
  method_not_allowed: {
    fr: (p) => (p.function ? `Appelez ${p.function} avec POST.` : "Utilisez POST."),
    en: (p) => (p.function ? `Use POST to call ${p.function}.` : "Use POST."),
  },
  origin_not_allowed: {
    fr: (p) => (p.origin ? `L'origine ${p.origin} n'est pas autorisée à appeler ce service.` : "Cette origine n'est pas autorisée à appeler ce service."),
    en: (p) => (p.origin ? `Origin ${p.origin} may not call this function.` : "This origin may not call this function."),
  },
  unauthorized: {
    fr: "Clé d'accès absente ou invalide.",
    en: "Missing or invalid access key.",
  },
  rate_limited: {
    fr: (p) => (seconds(p) === undefined ? "Trop de demandes ; réessayez dans un instant." : `Trop de demandes ; réessayez dans ${seconds(p)} s.`),
    en: (p) => (seconds(p) === undefined ? "Too many requests; try again shortly." : `Too many requests; try again in ${seconds(p)} s.`),
  },
  request_not_found: {
    fr: "Aucune demande ne correspond à cet identifiant.",
    en: "No request has this id.",
  },
  lead_not_found: {
    fr: "Aucun contact ne correspond à cet identifiant (lead_id).",
    en: "No lead has this id (lead_id).",
  },
  incomplete_body: {
    fr: "Le corps de la requête s'est interrompu avant la fin.",
    en: "The body ended before it was complete.",
  },
  invalid_idempotency_key: {
    fr: "L'en-tête Idempotency-Key doit compter de 1 à 255 caractères ASCII visibles.",
    en: "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
  },
  idempotency_key_reused: {
    fr: "Cette Idempotency-Key a déjà servi pour une autre requête.",
    en: "This Idempotency-Key was already used with a different request.",
  },
  idempotency_key_in_use: {
    fr: "Une requête avec cette Idempotency-Key est en cours de traitement ; réessayez.",
    en: "A request with this Idempotency-Key is being processed; try again.",
  },
  already_paid: {
    fr: "Cette demande est déjà réglée.",
    en: "This request is already paid.",
  },
  payment_in_progress: {
    fr: "Un paiement de cette demande est déjà en cours ; attendez son résultat.",
    en: "A payment for this request is already in progress; wait for its outcome.",
  },
  payment_provider_error: {
    fr: "Le service de paiement ne répond pas pour le moment ; réessayez.",
    en: "The payment provider could not be reached; please try again.",
  },
  payments_unavailable: {
    fr: "Le paiement n'est pas disponible pour le moment.",
    en: "Payments are not available right now.",
  },
  service_unavailable: {
    fr: "Le service est momentanément indisponible ; réessayez.",
    en: "The service is briefly unavailable. Please try again.",
  },
  internal_error: {
    fr: "Une erreur s'est produite de notre côté.",
    en: "Something went wrong on our side.",
  },
};

/** The catalogue's text for `code` in `locale`, or undefined when the code has no entry. */
export function errorMessage(code: string, locale: Locale, params?: MessageParams): string | undefined {
  const entry = Object.hasOwn(ERROR_MESSAGES, code) ? ERROR_MESSAGES[code] : undefined;
  return entry && fill(entry[locale], params);
}
