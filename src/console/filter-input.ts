/**
 * The filter an operator sends (a list's query string, an action's JSON body)
 * turned into a DeliveryFilter; a wrong field is a 400 naming it.
 */
import type { Sql } from "../db/sql.ts";
import { invalidInput } from "../http/http-error.ts";
import type { DeliveryFilter } from "../operator/filter.ts";
import type { DeliveryState } from "../outbox/types.ts";
import { resolveSearch } from "./search.ts";

export const STATES: DeliveryState[] = ["pending", "blocked", "delivered", "dead", "discarded", "superseded"];
export const EVENT_TYPES = ["lead.upserted", "callback.created", "request.upserted"];
const NAME = /^[a-z][a-z0-9_]{1,30}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type FilterInput = Record<string, unknown>;

export function parseTime(value: unknown, field: string, fields: Record<string, string>): Date | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const d = typeof value === "string" ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) fields[field] = "must be an ISO 8601 date/time";
  return d;
}

export async function parseFilter(sql: Sql, input: FilterInput): Promise<DeliveryFilter> {
  const fields: Record<string, string> = {};
  const text = (k: string) => {
    const v = input[k];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") fields[k] = "must be a string";
    return String(v);
  };
  const f: DeliveryFilter = {};
  const destination = text("destination");
  if (destination !== undefined) NAME.test(destination) ? (f.destination = destination) : (fields.destination = "is not a destination name");
  const state = text("state");
  if (state !== undefined) STATES.includes(state as DeliveryState) ? (f.state = state as DeliveryState) : (fields.state = `must be one of ${STATES.join(", ")}`);
  const type = text("type");
  if (type !== undefined) EVENT_TYPES.includes(type) ? (f.eventType = type) : (fields.type = `must be one of ${EVENT_TYPES.join(", ")}`);
  const status = input.status;
  if (status !== undefined && status !== null && status !== "") {
    const n = Number(status);
    Number.isInteger(n) && n >= 100 && n <= 599 ? (f.httpStatus = n) : (fields.status = "must be an HTTP status (100–599)");
  }
  const eventId = text("event_id");
  if (eventId !== undefined) UUID.test(eventId) ? (f.eventId = eventId) : (fields.event_id = "must be an event id (uuid)");
  f.since = parseTime(input.since, "since", fields);
  f.until = parseTime(input.until, "until", fields);
  const q = text("q");
  if (q !== undefined && q.trim().length > 254) fields.q = "is too long";
  if (Object.keys(fields).length > 0) throw invalidInput(fields, "The filter has invalid fields.");
  if (q !== undefined && q.trim() !== "") f.recordIds = await resolveSearch(sql, q);
  for (const k of Object.keys(f) as (keyof DeliveryFilter)[]) if (f[k] === undefined) delete f[k];
  return f;
}
