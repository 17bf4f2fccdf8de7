/**
 * The console's delivery list (keyset pagination on (seq, destination), newest
 * first — index-backed, so page 1 000 costs what page 1 does) and a
 * delivery's page: the event body, its attempts and the record's other
 * deliveries. Personal data is masked unless the caller reveals it.
 */
import type { Sql } from "../db/sql.ts";
import { maskText } from "../mask.ts";
import { type DeliveryFilter, filterSql } from "../operator/filter.ts";
import { maskRecord } from "./mask-record.ts";

export interface DeliveryRow {
  event_id: string;
  destination: string;
  record_id: string;
  record_type: string;
  type: string;
  seq: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  next_attempt_at: string;
}

export interface DeliveryPage {
  rows: DeliveryRow[];
  /** Opaque; pass back as `cursor` for the next (older) page. null: no more. */
  next: string | null;
}

const MAX_LIMIT = 200;

export function encodeCursor(seq: string, destination: string): string {
  return `${seq}.${destination}`;
}

export function decodeCursor(cursor: string): { seq: string; destination: string } | null {
  const m = /^(\d{1,19})\.([a-z][a-z0-9_]{1,30})$/.exec(cursor);
  return m ? { seq: m[1], destination: m[2] } : null;
}

/**
 * A time range narrowed to a range of seq as well (events are numbered in
 * creation order), so a list of last Tuesday walks the index from there, not
 * from today. The seq bounds are a minute wider than the range; the exact
 * created_at test still applies.
 */
function seqBounds(sql: Sql, f: DeliveryFilter) {
  const parts = [sql`true`];
  if (f.since) {
    parts.push(sql`d.seq >= coalesce((select seq from crm_events where created_at >= ${f.since}::timestamptz - interval '1 minute'
                                       order by created_at limit 1), 9223372036854775807)`);
  }
  if (f.until) {
    parts.push(sql`d.seq <= coalesce((select seq from crm_events where created_at < ${f.until}::timestamptz + interval '1 minute'
                                       order by created_at desc limit 1), 0)`);
  }
  // A search by record: reach its deliveries through its events (crm_events (record_id, seq)), not by walking the list.
  const ids = f.recordIds ?? (f.recordId ? [f.recordId] : undefined);
  if (ids && ids.length > 0) parts.push(sql`d.event_id = any(array(select id from crm_events where record_id = any(${ids}::uuid[])))`);
  return parts.reduce((a, b) => sql`${a} and ${b}`);
}

type Raw = Omit<DeliveryRow, "created_at" | "updated_at" | "delivered_at" | "next_attempt_at"> & {
  created_at: Date; updated_at: Date; delivered_at: Date | null; next_attempt_at: Date; data?: unknown;
};

/**
 * An error or a vendor's answer may echo what it was sent: every personal
 * value of the event is blanked, then emails and phones masked (the outbox
 * already does this when it records an attempt; the console does not rely on it).
 */
export function maskEcho(text: string | null, data: unknown): string | null {
  if (text === null) return null;
  return maskText(personalValues(data).reduce((t, v) => t.split(v).join("***"), text));
}

function personalValues(data: unknown): string[] {
  if (!data || typeof data !== "object") return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== "string" || v.length < 3) continue;
    if (maskRecord(v, k) !== v || /name|address|city|company|siren/i.test(k)) out.push(v, ...v.split(/\s+/).filter((w) => w.length >= 3));
  }
  return out.sort((a, b) => b.length - a.length);
}

function present({ data, ...r }: Raw): DeliveryRow {
  return {
    ...r,
    seq: String(r.seq),
    last_error: maskEcho(r.last_error, data),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    delivered_at: r.delivered_at ? r.delivered_at.toISOString() : null,
    next_attempt_at: r.next_attempt_at.toISOString(),
  };
}

export async function listDeliveries(sql: Sql, filter: DeliveryFilter, opts: { cursor?: string; limit?: number } = {}): Promise<DeliveryPage> {
  const limit = Math.min(Math.max(1, opts.limit ?? 50), MAX_LIMIT);
  const after = opts.cursor ? decodeCursor(opts.cursor) : null;
  const keyset = after ? sql`(d.seq, d.destination) < (${after.seq}::bigint, ${after.destination})` : sql`true`;
  const rows = await sql<Raw[]>`
    select d.event_id, d.destination, d.record_id, e.record_type, e.type, d.seq, d.state, d.attempts, d.last_status,
           d.last_error, d.created_at, d.updated_at, d.delivered_at, d.next_attempt_at,
           case when d.last_error is not null then e.data end as data
    from crm_deliveries d join crm_events e on e.id = d.event_id
    where ${filterSql(sql, filter)} and ${seqBounds(sql, filter)} and ${keyset}
    order by d.seq desc, d.destination desc
    limit ${limit + 1}`;
  const page = rows.slice(0, limit).map(present);
  const last = page[page.length - 1];
  return { rows: page, next: rows.length > limit && last ? encodeCursor(last.seq, last.destination) : null };
}

/** How many deliveries a bulk action would touch (its dry run). */
export async function countDeliveries(sql: Sql, filter: DeliveryFilter): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from crm_deliveries d join crm_events e on e.id = d.event_id
    where ${filterSql(sql, filter)} and ${seqBounds(sql, filter)}`;
  return row.n;
}

export interface AttemptRow {
  attempt: number;
  at: string;
  http_status: number | null;
  duration_ms: number;
  outcome: string;
  error: string | null;
  response_excerpt: string | null;
}

export interface DeliveryDetail {
  delivery: DeliveryRow;
  event: { id: string; type: string; record_type: string; record_id: string; created_at: string; data: unknown; masked: boolean };
  attempts: AttemptRow[];
  /** Every delivery of the record, all destinations, in order. */
  record_deliveries: DeliveryRow[];
}

export async function deliveryDetail(sql: Sql, eventId: string, destination: string, opts: { reveal?: boolean } = {}): Promise<DeliveryDetail | null> {
  const [delivery] = await listDeliveries(sql, { eventId, destination }, { limit: 1 }).then((p) => p.rows);
  if (!delivery) return null;
  const [event] = await sql<{ id: string; type: string; record_type: string; record_id: string; created_at: Date; data: unknown }[]>`
    select id, type, record_type, record_id, created_at, data from crm_events where id = ${eventId}::uuid`;
  const attempts = await sql<(Omit<AttemptRow, "at"> & { at: Date })[]>`
    select attempt, at, http_status, duration_ms, outcome, error, response_excerpt from crm_attempts
    where event_id = ${eventId}::uuid and destination = ${destination} order by id`;
  const others = await sql<Raw[]>`
    select d.event_id, d.destination, d.record_id, e.record_type, e.type, d.seq, d.state, d.attempts, d.last_status,
           d.last_error, d.created_at, d.updated_at, d.delivered_at, d.next_attempt_at,
           case when d.last_error is not null then e.data end as data
    from crm_events e join crm_deliveries d on d.event_id = e.id
    where e.record_id = ${event.record_id}::uuid
    order by d.seq, d.destination limit 500`;
  const reveal = opts.reveal === true;
  return {
    delivery,
    event: { ...event, created_at: event.created_at.toISOString(), data: reveal ? event.data : maskRecord(event.data), masked: !reveal },
    attempts: attempts.map((a) => ({
      ...a,
      at: a.at.toISOString(),
      error: maskEcho(a.error, event.data),
      response_excerpt: maskEcho(a.response_excerpt, event.data),
    })),
    record_deliveries: others.map(present),
  };
}
