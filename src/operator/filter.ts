/**
 * The filter operators act on (CLI and console alike): which deliveries a
 * list shows and a bulk action touches. Every field narrows; none = all.
 */
import type { Sql } from "../db/sql.ts";
import type { DeliveryState } from "../outbox/types.ts";

export interface DeliveryFilter {
  destination?: string;
  state?: DeliveryState;
  eventType?: string;
  recordId?: string;
  /** Any of these records (a search by email or phone); an empty list matches nothing. */
  recordIds?: string[];
  eventId?: string;
  httpStatus?: number;
  /** Deliveries created at or after this time. */
  since?: Date;
  until?: Date;
}

/** `d` is crm_deliveries, `e` crm_events. */
export function filterSql(sql: Sql, f: DeliveryFilter) {
  const parts = [sql`true`];
  if (f.destination) parts.push(sql`d.destination = ${f.destination}`);
  if (f.state) parts.push(sql`d.state = ${f.state}`);
  if (f.eventType) parts.push(sql`e.type = ${f.eventType}`);
  if (f.recordId) parts.push(sql`d.record_id = ${f.recordId}::uuid`);
  if (f.recordIds) parts.push(f.recordIds.length ? sql`d.record_id = any(${f.recordIds}::uuid[])` : sql`false`);
  if (f.eventId) parts.push(sql`d.event_id = ${f.eventId}::uuid`);
  if (f.httpStatus !== undefined) parts.push(sql`d.last_status = ${f.httpStatus}`);
  if (f.since) parts.push(sql`d.created_at >= ${f.since}`);
  if (f.until) parts.push(sql`d.created_at < ${f.until}`);
  return parts.reduce((a, b) => sql`${a} and ${b}`);
}

export function describeFilter(f: DeliveryFilter): string {
  const parts = Object.entries(f).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v instanceof Date ? v.toISOString() : Array.isArray(v) ? `[${v.length} records]` : v}`);
  return parts.length ? parts.join(" ") : "everything";
}
