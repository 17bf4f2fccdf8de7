/**
 * The soak's vendor destinations: every double of src/destinations on one
 * loopback server the soak owns (so it outlives the kills), each with its
 * own fault phases, and the per-destination verdict at the end (docs/soak.md).
 *
 * The doubles get generous quotas: the soak measures delivery under faults,
 * not the vendors' plan limits (Brevo's 100 CRM calls an hour, Pipedrive's
 * 20 requests per 2 s, Zendesk's 200 a minute… would only make the drain
 * slower; their limits have their own contract tests). For the same reason
 * every destination's pace is raised with `<NAME>_RATE_LIMIT`.
 */
import { startDestinationDoubles, type DestinationDoubles } from "../lib/destination-doubles.ts";
import type { Faults } from "../../src/destinations/double-kit.ts";
import { createBrevoDouble, DOUBLE_PIPELINE_ID, DOUBLE_STAGES } from "../../src/destinations/brevo/double.ts";
import { createHubspotDouble } from "../../src/destinations/hubspot/double.ts";
import { createOdooDouble } from "../../src/destinations/odoo/double.ts";
import { createPipedriveDouble } from "../../src/destinations/pipedrive/double.ts";
import { createSalesforceDouble } from "../../src/destinations/salesforce/double.ts";
import { createSellsyDouble } from "../../src/destinations/sellsy/double.ts";
import { createShopifyDouble } from "../../src/destinations/shopify/double.ts";
import { createZendeskDouble } from "../../src/destinations/zendesk/double.ts";
import type postgres from "postgres";
import { BREVO_SOAK_STAGES, checkVendor, type RecordTruth } from "./vendor-oracle.ts";

const MANY = 1_000_000;

export const BREVO_STAGE_IDS: Record<string, string> = Object.fromEntries(
  Object.entries(BREVO_SOAK_STAGES).map(([status, stage]) => [status, DOUBLE_STAGES[stage]]),
);

/** `only`: the destinations to serve (default all; [] for none). */
export async function startSoakDoubles(only?: string[]): Promise<DestinationDoubles> {
  return await startDestinationDoubles(only, {
    brevo: () => createBrevoDouble({ contactsPerSecond: MANY, otherPerHour: MANY }),
    hubspot: () => createHubspotDouble({ tenSecondlyLimit: MANY, dailyLimit: MANY }),
    odoo: () => createOdooDouble({ callsPerSecond: MANY }),
    pipedrive: () => createPipedriveDouble({ burstLimit: MANY, searchBurstLimit: MANY, dailyWriteLimit: MANY }),
    salesforce: () => createSalesforceDouble({ dailyLimit: MANY }),
    sellsy: () => createSellsyDouble({ perSecond: MANY, perDay: MANY }),
    shopify: () => createShopifyDouble({ bucketSize: MANY, restoreRate: MANY }),
    zendesk: () => createZendeskDouble({ requestsPerMinute: MANY }),
  });
}

/** Settings beside the doubles' localEnv: a quick pace for everyone, Brevo's stages mapped (so a deal shows its payment). */
export function soakDestinationEnv(names: string[]): Record<string, string> {
  const env: Record<string, string> = {
    BREVO_PIPELINE_ID: DOUBLE_PIPELINE_ID,
    BREVO_DEAL_STAGES: Object.entries(BREVO_STAGE_IDS).map(([s, id]) => `${s}=${id}`).join(","),
  };
  for (const name of names) env[`${name.toUpperCase()}_RATE_LIMIT`] = "50";
  return env;
}

/** One fault phase of a destination's double (the kit's modes; never `reject`: a refused record is dead by design). */
export function vendorFault(phase: string, pick: <T>(items: readonly T[]) => T): Faults {
  if (phase === "down") return { mode: "down" };
  if (phase === "throttle") return { mode: "throttle", retryAfter: 1 };
  if (phase === "error") return { mode: "error", status: pick([500, 502, 503]) };
  if (phase === "slow") return { mode: "slow", delayMs: pick([500, 2_500]) }; // 2.5 s: past the backend's 2 s timeout
  return { mode: "ok" };
}

export interface DestinationVerdict {
  /** Events (monelec, webhook) or records (vendors) checked. */
  checked: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  /** Vendors: emails held as two people (two records of one person delivered at the same moment). */
  samePersonTwice: number;
  /** Deliveries of this destination still waiting, or dead, after the drain. */
  stuck: { pending: number; dead: number };
  /** Examples, for the report. */
  examples: string[];
}

/**
 * The webhook receiver and the vendors, once the backlog is drained. The webhook keeps a
 * history (every message by webhook-id): lost, accepted twice and order are judged per
 * event as for monelec. A vendor keeps state: see vendor-oracle.ts.
 */
export async function verifyDestinations(sql: postgres.Sql, doubles: DestinationDoubles): Promise<Record<string, DestinationVerdict>> {
  const out: Record<string, DestinationVerdict> = {};
  const stuckRows = await sql<{ destination: string; state: string; last_status: number | null; last_error: string | null }[]>`
    select destination, state, last_status, last_error from crm_deliveries where state in ('pending', 'blocked', 'dead')`;
  const stuckOf = (name: string) => {
    const mine = stuckRows.filter((r) => r.destination === name);
    return {
      stuck: { pending: mine.filter((r) => r.state !== "dead").length, dead: mine.filter((r) => r.state === "dead").length },
      why: [...new Set(mine.filter((r) => r.state === "dead").map((r) => `dead ${r.last_status ?? "-"}: ${(r.last_error ?? "").slice(0, 160)}`))].slice(0, 2),
    };
  };
  const rows = await sql<{ id: string; seq: string; record_type: RecordTruth["type"]; record_id: string; data: Record<string, unknown>; state: string | null }[]>`
    select e.id::text, e.seq::text, e.record_type, e.record_id::text, e.data, d.state
    from crm_events e left join crm_deliveries d on d.event_id = e.id and d.destination = 'webhook'
    order by e.seq`;

  const m = stuckOf("monelec"); // judged by run.ts's own checks; its stuck deliveries here
  out.monelec = { checked: 0, lost: 0, duplicates: 0, orderViolations: 0, samePersonTwice: 0, stuck: m.stuck, examples: m.why };

  if (!doubles.names.includes("webhook")) return out;
  // webhook: every event received once (a repeated webhook-id is a duplicate delivery, which the
  // receiver drops; it must carry the same payload), in creation order per record.
  const hook = doubles.server.get("webhook").double.state() as { messages: { id: string }[]; duplicates: { id: string; samePayload: boolean }[] };
  const index = new Map<string, number>();
  let twice = 0;
  hook.messages.forEach((m, i) => (index.has(m.id) ? twice++ : index.set(m.id, i)));
  twice += hook.duplicates.filter((d) => !d.samePayload).length;
  const acceptedLater = (e: (typeof rows)[number]) => rows.some((x) => x.record_id === e.record_id && BigInt(x.seq) > BigInt(e.seq) && index.has(x.id));
  const lostEvents = rows.filter((e) => !index.has(e.id) && !(e.state === "superseded" && acceptedLater(e)));
  let order = 0;
  const byRecord = new Map<string, number[]>();
  for (const e of rows) if (index.has(e.id)) byRecord.set(e.record_id, [...(byRecord.get(e.record_id) ?? []), index.get(e.id)!]);
  for (const list of byRecord.values()) if (list.some((v, i) => i > 0 && v <= list[i - 1])) order++;
  const w = stuckOf("webhook");
  out.webhook = { checked: rows.length, lost: lostEvents.length, duplicates: twice, orderViolations: order, samePersonTwice: 0, stuck: w.stuck,
    examples: [...w.why, ...lostEvents.slice(0, 3).map((e) => `lost ${e.id}`)] };

  // vendors: each record's newest snapshot, as the vendor holds it.
  const newest = new Map<string, (typeof rows)[number]>();
  for (const e of rows) newest.set(e.record_id, e);
  const truths: RecordTruth[] = [...newest.values()].map((e) => ({
    type: e.record_type, id: e.record_id,
    email: (e.data.email as string | null) ?? null, phone: (e.data.phone as string | null) ?? null,
    paymentStatus: (e.data.payment_status as string | null) ?? null,
  }));
  for (const name of doubles.names.filter((n) => n !== "webhook")) {
    const v = checkVendor(name, doubles.server.get(name).double.state() as Record<string, any[]>, truths, BREVO_STAGE_IDS);
    const st = stuckOf(name);
    out[name] = {
      checked: v.records, lost: v.lost.length, duplicates: v.duplicates.length, orderViolations: v.outOfDate.length,
      samePersonTwice: v.samePersonTwice.length, stuck: st.stuck,
      examples: [...st.why, ...v.lost.map((x) => `lost ${x}`), ...v.duplicates.map((x) => `duplicate ${x}`), ...v.outOfDate.map((x) => `out of date ${x}`)].slice(0, 4),
    };
  }
  return out;
}
