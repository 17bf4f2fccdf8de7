/** The console's words, French first (the operators are French), English on ?lang=en. */
export type Lang = "fr" | "en";

const FR = {
  title: "Livraisons CRM", "nav.overview": "Vue d'ensemble", "nav.deliveries": "Livraisons", "nav.activity": "Activité",
  "live.on": "à jour", "live.off": "hors ligne", other: "English",
  "overview.title": "Vue d'ensemble", "overview.backlog": "En attente", "overview.charts": "Tendances",
  "status.enabled": "active", "status.paused": "en pause", "status.circuit_open": "circuit ouvert", "status.throttled": "quota atteint",
  "status.not_configured": "non configurée",
  "card.hour": "Dernière heure", "card.day": "Dernières 24 h", "card.failure": "Taux d'échec (1 h)", "card.oldest": "Plus ancienne en attente",
  "card.lastSuccess": "Dernier succès", "card.backlog": "En attente / bloquées / mortes", "card.since": "depuis", "card.by": "par",
  "card.until": "jusqu'à", "card.dead": "Voir les échecs", "card.replaySince": "Rejouer depuis",
  "chart.throughput": "Tentatives par minute, par issue", "chart.throughput24": "Tentatives par 30 min, par issue",
  "chart.lag": "Délai de livraison (s) : p50, p95, p99", "chart.empty": "Rien sur la période.",
  "window.1h": "1 h", "window.24h": "24 h",
  "outcome.delivered": "livrée", "outcome.retry": "à réessayer", "outcome.dead": "morte", "outcome.throttled": "quota",
  "outcome.paused": "en pause", "outcome.lease_lost": "bail perdu",
  "state.pending": "en attente", "state.blocked": "bloquée", "state.delivered": "livrée", "state.dead": "morte",
  "state.discarded": "abandonnée", "state.superseded": "remplacée",
  "action.pause": "Mettre en pause", "action.resume": "Reprendre", "action.test": "Tester la connexion", "action.backfill": "Rattrapage",
  "action.replay": "Rejouer", "action.retry": "Réessayer", "action.discard": "Abandonner", "action.sendNow": "Envoyer maintenant",
  "action.retryAll": "Réessayer tout ce filtre", "action.discardAll": "Abandonner tout ce filtre", "action.export": "Exporter en CSV",
  "action.exportPersonal": "avec les données personnelles", "action.reveal": "Révéler les données personnelles",
  "action.confirm": "Confirmer", "action.cancel": "Annuler", "action.more": "Plus ancien", "action.apply": "Filtrer", "action.reset": "Effacer",
  "confirm.retry": "{n} livraison(s) morte(s) seront renvoyées avec les données actuelles.",
  "confirm.discard": "{n} livraison(s) morte(s) seront abandonnées.",
  "confirm.send-now": "{n} livraison(s) en attente partiront maintenant.",
  "confirm.replay": "{n} enregistrement(s) seront renvoyés à {d} (leurs données actuelles).",
  "confirm.backfill": "Chaque enregistrement que {d} n'a jamais reçu lui sera envoyé.",
  "done.count": "{n} traité(s).", "done.test.ok": "Connexion OK : {m}", "done.test.bad": "Problème : {m}",
  "filter.destination": "Destination", "filter.state": "État", "filter.type": "Type d'événement", "filter.status": "Statut HTTP",
  "filter.since": "Depuis", "filter.until": "Jusqu'à", "filter.q": "Enregistrement, e-mail ou téléphone exact", "filter.all": "Toutes",
  "list.title": "Livraisons", "list.empty": "Aucune livraison ne correspond.", "list.created": "Créée", "list.record": "Enregistrement",
  "list.attempts": "Essais", "list.status": "HTTP", "list.error": "Dernière erreur", "list.type": "Type", "list.state": "État",
  "list.destination": "Destination", "list.open": "Ouvrir",
  "detail.title": "Livraison", "detail.body": "Données envoyées", "detail.masked": "Données personnelles masquées.",
  "detail.revealed": "Données personnelles révélées (action enregistrée).", "detail.attempts": "Tentatives",
  "detail.noAttempts": "Aucune tentative pour l'instant.", "detail.record": "Toutes les livraisons de cet enregistrement",
  "detail.next": "Prochain essai", "detail.duration": "ms", "detail.answer": "Réponse",
  "activity.title": "Activité des opérateurs", "activity.empty": "Aucune action enregistrée.", "activity.at": "Quand",
  "activity.who": "Qui", "activity.what": "Action", "activity.filter": "Filtre", "activity.count": "Nombre", "activity.detail": "Détail",
  never: "jamais", none: "—", seconds: "s", error: "Erreur",
};
type Key = keyof typeof FR;

const EN: Record<Key, string> = {
  title: "CRM deliveries", "nav.overview": "Overview", "nav.deliveries": "Deliveries", "nav.activity": "Activity",
  "live.on": "live", "live.off": "offline", other: "Français",
  "overview.title": "Overview", "overview.backlog": "Backlog", "overview.charts": "Trends",
  "status.enabled": "enabled", "status.paused": "paused", "status.circuit_open": "circuit open", "status.throttled": "throttled",
  "status.not_configured": "not configured",
  "card.hour": "Last hour", "card.day": "Last 24 h", "card.failure": "Failure rate (1 h)", "card.oldest": "Oldest pending",
  "card.lastSuccess": "Last success", "card.backlog": "Pending / blocked / dead", "card.since": "since", "card.by": "by",
  "card.until": "until", "card.dead": "See failures", "card.replaySince": "Replay since",
  "chart.throughput": "Attempts per minute, by outcome", "chart.throughput24": "Attempts per 30 min, by outcome",
  "chart.lag": "Delivery lag (s): p50, p95, p99", "chart.empty": "Nothing in this period.",
  "window.1h": "1 h", "window.24h": "24 h",
  "outcome.delivered": "delivered", "outcome.retry": "retry", "outcome.dead": "dead", "outcome.throttled": "throttled",
  "outcome.paused": "paused", "outcome.lease_lost": "lease lost",
  "state.pending": "pending", "state.blocked": "blocked", "state.delivered": "delivered", "state.dead": "dead",
  "state.discarded": "discarded", "state.superseded": "superseded",
  "action.pause": "Pause", "action.resume": "Resume", "action.test": "Test connection", "action.backfill": "Backfill",
  "action.replay": "Replay", "action.retry": "Retry", "action.discard": "Discard", "action.sendNow": "Send now",
  "action.retryAll": "Retry everything matching", "action.discardAll": "Discard everything matching", "action.export": "Export CSV",
  "action.exportPersonal": "with personal data", "action.reveal": "Reveal personal data",
  "action.confirm": "Confirm", "action.cancel": "Cancel", "action.more": "Older", "action.apply": "Filter", "action.reset": "Clear",
  "confirm.retry": "{n} dead deliveries will be sent again with the current data.",
  "confirm.discard": "{n} dead deliveries will be discarded.",
  "confirm.send-now": "{n} pending deliveries will go now.",
  "confirm.replay": "{n} records will be sent again to {d} (their current data).",
  "confirm.backfill": "Every record {d} never received will be sent to it.",
  "done.count": "{n} done.", "done.test.ok": "Connection OK: {m}", "done.test.bad": "Problem: {m}",
  "filter.destination": "Destination", "filter.state": "State", "filter.type": "Event type", "filter.status": "HTTP status",
  "filter.since": "Since", "filter.until": "Until", "filter.q": "Record, exact email or phone", "filter.all": "All",
  "list.title": "Deliveries", "list.empty": "No delivery matches.", "list.created": "Created", "list.record": "Record",
  "list.attempts": "Attempts", "list.status": "HTTP", "list.error": "Last error", "list.type": "Type", "list.state": "State",
  "list.destination": "Destination", "list.open": "Open",
  "detail.title": "Delivery", "detail.body": "Data sent", "detail.masked": "Personal data masked.",
  "detail.revealed": "Personal data revealed (action recorded).", "detail.attempts": "Attempts",
  "detail.noAttempts": "No attempt yet.", "detail.record": "Every delivery of this record",
  "detail.next": "Next attempt", "detail.duration": "ms", "detail.answer": "Answer",
  "activity.title": "Operator activity", "activity.empty": "No action recorded.", "activity.at": "When",
  "activity.who": "Who", "activity.what": "Action", "activity.filter": "Filter", "activity.count": "Count", "activity.detail": "Detail",
  never: "never", none: "—", seconds: "s", error: "Error",
};

export const lang: Lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "fr";

export function t(key: string, vars: Record<string, string | number> = {}): string {
  const text = (lang === "en" ? EN : FR)[key as Key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? ""));
}

export function fmtTime(iso: string | null): string {
  if (!iso) return t("never");
  return new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "fr-FR", { dateStyle: "short", timeStyle: "medium" });
}

export function fmtAge(seconds: number | null): string {
  if (seconds === null) return t("none");
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} j`.replace(" j", lang === "en" ? " d" : " j");
}
