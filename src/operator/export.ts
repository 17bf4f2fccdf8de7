/**
 * `crm export` / the console's export: the records behind the filtered
 * deliveries (leads, call-backs, requests) as CSV, one row per record, with
 * the record's latest snapshot (the CONTRACT §3 body) and its latest delivery
 * state at each destination — for tools that take files, not APIs.
 * Personal fields are masked unless `personal` is asked for.
 */
import type { Sql } from "../db/sql.ts";
import { maskRecord } from "../console/mask-record.ts";
import { type DeliveryFilter, filterSql } from "./filter.ts";

export const EXPORT_MAX_ROWS = 100_000;

const FIELDS = [
  "email", "phone", "firstName", "lastName", "full_name", "serviceType", "postalCode", "source", "client_type", "company_name",
  "siren", "type_raccordement", "usage", "address", "city", "zip_code", "phase", "power_kva", "is_viabilise", "status",
  "payment_status", "payment_intent_id", "amount", "currency", "utm_source", "utm_medium", "utm_campaign",
];

/** RFC 4180 quoting; a cell a spreadsheet would run as a formula gets a leading quote. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let s = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (/^[=@\t\r]/.test(s) || /^[+-][^0-9*]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface ExportResult {
  csv: string;
  rows: number;
  truncated: boolean;
}

export async function exportRecords(sql: Sql, filter: DeliveryFilter, opts: { personal?: boolean; destinations?: string[] } = {}): Promise<ExportResult> {
  const rows = await sql<{ record_id: string; record_type: string; type: string; created_at: Date; data: Record<string, unknown>;
    states: Record<string, string> | null }[]>`
    with recs as (
      select distinct d.record_id from crm_deliveries d join crm_events e on e.id = d.event_id
      where ${filterSql(sql, filter)} limit ${EXPORT_MAX_ROWS + 1})
    select r.record_id, le.record_type, le.type, le.created_at, le.data,
           (select jsonb_object_agg(x.destination, x.state) from (
              select distinct on (d.destination) d.destination, d.state
              from crm_events e2 join crm_deliveries d on d.event_id = e2.id
              where e2.record_id = r.record_id order by d.destination, d.seq desc) x) as states
    from recs r
    cross join lateral (select record_type, type, created_at, data from crm_events
                        where record_id = r.record_id order by seq desc limit 1) le
    order by le.created_at, r.record_id`;
  const truncated = rows.length > EXPORT_MAX_ROWS;
  const kept = rows.slice(0, EXPORT_MAX_ROWS);
  const destinations = [...new Set([...(opts.destinations ?? []), ...kept.flatMap((r) => Object.keys(r.states ?? {}))])].sort();
  const header = ["record_type", "record_id", "last_event", "last_event_at", ...FIELDS, ...destinations.map((d) => `delivery_${d}`)];
  const lines = [header.join(",")];
  for (const r of kept) {
    const data = (opts.personal ? r.data : maskRecord(r.data)) as Record<string, unknown>;
    lines.push([
      r.record_type, r.record_id, r.type, r.created_at.toISOString(), ...FIELDS.map((f) => data[f]),
      ...destinations.map((d) => r.states?.[d] ?? ""),
    ].map(csvCell).join(","));
  }
  return { csv: lines.join("\r\n") + "\r\n", rows: kept.length, truncated };
}
