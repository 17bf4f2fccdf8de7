/**
 * The shapes the local Stripe double hands out — PaymentIntent, Charge and
 * Event — reduced to the fields our code reads. Pure: no I/O, so tests can
 * craft events (out of order, duplicated, odd payloads) without the server.
 */
import { randomBytes } from "node:crypto";

export const SUPPORTED_EVENT_TYPES = [
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.canceled",
  "charge.refunded",
] as const;

export type SupportedEventType = (typeof SUPPORTED_EVENT_TYPES)[number];

export function isSupportedEventType(value: string): value is SupportedEventType {
  return (SUPPORTED_EVENT_TYPES as readonly string[]).includes(value);
}

/** Stripe's PaymentIntent statuses (API reference, "The PaymentIntent object"). */
export type PaymentIntentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "requires_capture"
  | "succeeded"
  | "canceled";

export interface PaymentIntentRecord {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_received: number;
  currency: string;
  status: PaymentIntentStatus;
  client_secret: string;
  metadata: Record<string, string>;
  description: string | null;
  created: number;
  livemode: false;
  latest_charge: string | null;
  last_payment_error: { code: string; message: string; type: string } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  automatic_payment_methods: { enabled: boolean };
}

export interface ChargeRecord {
  id: string;
  object: "charge";
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  paid: boolean;
  refunded: boolean;
  status: "succeeded";
  payment_intent: string;
  currency: string;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
}

export interface StripeEventRecord<T = PaymentIntentRecord | ChargeRecord> {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: T };
}

export const API_VERSION = "2025-01-27.acacia";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random alphanumerics, like the tail of a Stripe id. */
export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return `${prefix}${out}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * An event carrying a snapshot of `object` (deep-copied, as Stripe freezes the
 * object at event time). `overrides` lets a test pin the id or timestamp.
 */
export function buildEvent<T extends object>(
  type: SupportedEventType | (string & {}),
  object: T,
  overrides: Partial<Pick<StripeEventRecord<T>, "id" | "created" | "api_version">> = {},
): StripeEventRecord<T> {
  return {
    id: overrides.id ?? randomId("evt_"),
    object: "event",
    api_version: overrides.api_version ?? API_VERSION,
    created: overrides.created ?? nowSeconds(),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object: structuredClone(object) },
  };
}
