/**
 * What a webhook receiver gets (CONTRACT §5): the Standard Webhooks payload
 * structure `{type, timestamp, data}` — the event's type, when the event was
 * written, and the event's CONTRACT §3 body as it is (its keys sorted: the same
 * bytes on every attempt).
 */
import type { DeliveryEvent, EventType } from "../types.ts";

export interface WebhookMessage {
  type: EventType;
  /** ISO 8601 of the event (not of the attempt: that is `webhook-timestamp`). */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The event's time in ISO 8601 UTC; left as given when it cannot be read as a date. */
export function isoTimestamp(createdAt: string): string {
  const t = Date.parse(createdAt);
  return Number.isNaN(t) ? createdAt : new Date(t).toISOString();
}

/**
 * The same value with every object's keys in code-point order, at every depth. The body
 * must be the same bytes on every attempt (a receiver may compare a repeated webhook-id's
 * payload): the immediate attempt has the writer's object, a retry the one Postgres'
 * jsonb gives back, whose keys come in another order.
 */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortedKeys(obj[k])]));
}

export function webhookMessage(event: Pick<DeliveryEvent, "type" | "createdAt" | "data">): WebhookMessage {
  return { type: event.type, timestamp: isoTimestamp(event.createdAt), data: sortedKeys(event.data) as Record<string, unknown> };
}

/** The exact bytes sent and signed: minified JSON. */
export function webhookBody(event: Pick<DeliveryEvent, "type" | "createdAt" | "data">): string {
  return JSON.stringify(webhookMessage(event));
}
