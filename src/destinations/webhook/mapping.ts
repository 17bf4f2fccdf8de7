/**
 * What a webhook receiver gets (CONTRACT §5): the Standard Webhooks payload
 * structure `{type, timestamp, data}` — the event's type, when the event was
 * written, and the event's CONTRACT §3 body as it is.
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

export function webhookMessage(event: Pick<DeliveryEvent, "type" | "createdAt" | "data">): WebhookMessage {
  return { type: event.type, timestamp: isoTimestamp(event.createdAt), data: event.data };
}

/** The exact bytes sent and signed: minified JSON. */
export function webhookBody(event: Pick<DeliveryEvent, "type" | "createdAt" | "data">): string {
  return JSON.stringify(webhookMessage(event));
}
