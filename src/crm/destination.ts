/**
 * What the outbox needs from a CRM (or any webhook-like destination): turn a
 * stored event into one HTTP request, and say what the answer means. Another
 * CRM (HubSpot, Brevo, Pipedrive, an n8n hook…) is one more module with this shape.
 */
import type { ClaimedEvent } from "../outbox/types.ts";

export type AttemptOutcome =
  | { kind: "delivered"; httpStatus: number }
  | { kind: "retry"; httpStatus: number | null; error: string; retryAfterMs?: number }
  | { kind: "dead"; httpStatus: number | null; error: string };

export interface Destination {
  readonly name: string;
  /** False when not configured (e.g. no API key): events are kept as `skipped`. */
  readonly enabled: boolean;
  /** The one HTTP call that delivers `event`. */
  buildRequest(event: ClaimedEvent): Request;
}
