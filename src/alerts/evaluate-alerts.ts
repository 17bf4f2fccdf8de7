/**
 * Alerts (CONTRACT §6), evaluated at the end of every sweep, on Supabase as
 * locally: one message per incident, never one per event, and one "resolved"
 * message when it clears. Incidents:
 *   dead         a destination holds dead deliveries
 *   circuit      a destination's circuit breaker is open
 *   pending_age  a destination's oldest waiting delivery is older than ALERT_PENDING_AGE
 *                (not while an operator paused it: waiting is then what was asked)
 * State lives in alert_incidents: at most one open incident per (kind, key);
 * a notification is claimed with a conditional update before it is sent, so
 * several isolates sweeping at once never send it twice; a failed send is
 * tried again by a later sweep. Messages carry counts, statuses and
 * destination names only: no personal data, no links.
 */
import type { Sql } from "../db/sql.ts";
import type { Logger } from "../log.ts";

export interface AlertConfig {
  /** Slack-, Mattermost- or Teams-compatible incoming webhook; unset = alerts off. */
  webhookUrl: string | undefined;
  /** ALERT_PENDING_AGE in ms (default 15 min). */
  pendingAgeMs: number;
}

export type IncidentKind = "dead" | "circuit" | "pending_age";

interface Condition {
  kind: IncidentKind;
  key: string;
  detail: string;
}

interface Incident {
  id: string;
  kind: IncidentKind;
  key: string;
  opened_at: Date;
  resolved_at: Date | null;
  detail: string | null;
  open_notified_at: Date | null;
}

export interface AlertReport {
  open: number;
  sent: number;
  failed: number;
}

/** A send that has not been confirmed within this time is tried again. */
const CLAIM_MS = 120_000;
const SEND_TIMEOUT_MS = 5_000;
const COUNT_CAP = 10_000;

export async function currentConditions(sql: Sql, pendingAgeMs: number): Promise<Condition[]> {
  const rows = await sql<{ name: string; paused: boolean; circuit: boolean; dead: number; dead_status: number | null;
    oldest: number | null; waiting: number }[]>`
    select dn.name, dn.paused_at is not null as paused, dn.circuit_open_until is not null as circuit,
           (select count(*)::int from (select 1 from crm_deliveries d where d.destination = dn.name and d.state = 'dead'
                                       limit ${COUNT_CAP}) x) as dead,
           (select d.last_status from crm_deliveries d where d.destination = dn.name and d.state = 'dead'
            order by d.seq desc limit 1) as dead_status,
           (select extract(epoch from now() - d.created_at)::float8 from crm_deliveries d
            where d.destination = dn.name and d.state in ('pending', 'blocked') order by d.created_at limit 1) as oldest,
           (select count(*)::int from (select 1 from crm_deliveries d where d.destination = dn.name
                                       and d.state in ('pending', 'blocked') limit ${COUNT_CAP}) x) as waiting
    from crm_destinations dn`;
  const out: Condition[] = [];
  for (const r of rows) {
    if (r.dead > 0) {
      out.push({ kind: "dead", key: r.name, detail: `${countText(r.dead)} livraison(s) en échec définitif` +
        (r.dead_status ? ` (dernier statut HTTP ${r.dead_status})` : " (sans réponse du serveur)") });
    }
    if (r.circuit) out.push({ kind: "circuit", key: r.name, detail: "circuit ouvert après des erreurs serveur répétées : envois suspendus" });
    if (!r.paused && r.oldest !== null && r.oldest * 1000 > pendingAgeMs) {
      out.push({ kind: "pending_age", key: r.name, detail: `la plus ancienne livraison attend depuis ${duration(r.oldest * 1000)} ` +
        `(seuil ${duration(pendingAgeMs)}) ; ${countText(r.waiting)} en attente` });
    }
  }
  return out;
}

export function openMessage(i: { kind: IncidentKind; key: string; detail: string | null }): string {
  const title = { dead: "Livraisons en échec", circuit: "Destination injoignable", pending_age: "Livraisons en retard" }[i.kind];
  const hint = i.kind === "dead" ? " À traiter : `npm run console` (ou `npm run crm -- failed`)." : "";
  return `🔴 [CRM] ${title} — ${i.key} : ${i.detail ?? ""}.${hint}`;
}

export function resolvedMessage(i: { kind: IncidentKind; key: string; opened_at: Date }, now = new Date()): string {
  const what = { dead: "plus aucune livraison en échec", circuit: "circuit refermé, envois repris", pending_age: "retard résorbé" }[i.kind];
  return `✅ [CRM] Résolu — ${i.key} : ${what} (incident ouvert pendant ${duration(now.getTime() - i.opened_at.getTime())}).`;
}

export async function evaluateAlerts(sql: Sql, config: AlertConfig, fetchFn: typeof fetch, log: Logger): Promise<AlertReport> {
  const report: AlertReport = { open: 0, sent: 0, failed: 0 };
  if (!config.webhookUrl) return report;
  try {
    const conditions = await currentConditions(sql, config.pendingAgeMs);
    report.open = conditions.length;
    const kinds = conditions.map((c) => c.kind);
    const keys = conditions.map((c) => c.key);
    const details = conditions.map((c) => c.detail);
    // Open what holds and has no open incident; resolve open incidents whose condition cleared.
    await sql`
      insert into alert_incidents (kind, key, detail)
      select * from unnest(${kinds}::text[], ${keys}::text[], ${details}::text[])
      on conflict (kind, key) where resolved_at is null do nothing`;
    await sql`
      update alert_incidents set resolved_at = now()
      where resolved_at is null
        and (kind, key) not in (select * from unnest(${kinds}::text[], ${keys}::text[]))`;
    // Claim what must be told: an unannounced open incident, or the end of an announced one.
    const claimed = await sql<Incident[]>`
      update alert_incidents set claimed_at = now()
      where id in (
        select id from alert_incidents
        where ((open_notified_at is null and resolved_at is null)
               or (resolved_at is not null and open_notified_at is not null and resolved_notified_at is null))
          and (claimed_at is null or claimed_at < now() - ${CLAIM_MS} * interval '1 millisecond')
        order by id limit 20
        for update skip locked)
      returning id, kind, key, opened_at, resolved_at, detail, open_notified_at`;
    for (const i of claimed) {
      const resolving = i.resolved_at !== null;
      const text = resolving ? resolvedMessage(i) : openMessage(i);
      const ok = await send(fetchFn, config.webhookUrl, text, log);
      if (ok) {
        report.sent++;
        if (resolving) await sql`update alert_incidents set resolved_notified_at = now(), claimed_at = null where id = ${i.id}`;
        else await sql`update alert_incidents set open_notified_at = now(), claimed_at = null where id = ${i.id}`;
      } else {
        report.failed++;
        // Left claimed: a later sweep tries again once the claim is stale.
        await sql`update alert_incidents set send_failures = send_failures + 1 where id = ${i.id}`;
      }
      log.info("alert", { kind: i.kind, destination: i.key, state: resolving ? "resolved" : "open", sent: ok });
    }
  } catch (err) {
    log.error("alert evaluation failed", { error: (err as Error).message });
  }
  return report;
}

async function send(fetchFn: typeof fetch, url: string, text: string, log: Logger): Promise<boolean> {
  try {
    const res = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text }),
      redirect: "manual",
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (!res.ok) log.warn("alert webhook refused the message", { http_status: res.status });
    return res.ok;
  } catch (err) {
    log.warn("alert webhook unreachable", { error: (err as Error).message });
    return false;
  }
}

function countText(n: number): string {
  return n >= COUNT_CAP ? `${COUNT_CAP}+` : String(n);
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1).replace(".", ",")} h`;
}
