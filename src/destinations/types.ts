/**
 * What a destination is (CONTRACT §5): the settings that enable it, how one
 * event becomes one or more HTTP calls, how the vendor's answers are
 * classified, a pace, and a credentials check that creates nothing. The
 * outbox owns everything else (leases, retries, order, attempt log, pause,
 * circuit), so a destination module is only this interface — one folder under
 * src/destinations/<name>/ with its mapping, its double and its contract test.
 */
import type { Logger } from "../log.ts";

export type EventType = "lead.upserted" | "callback.created" | "request.upserted";
export type RecordType = "lead" | "callback" | "request";

/** The event a destination delivers. `data` is the CONTRACT §3 body of the event. */
export interface DeliveryEvent {
  /** Stable across retries: the Idempotency-Key / webhook-id. */
  id: string;
  type: EventType;
  recordType: RecordType;
  recordId: string;
  /** When the event was written (ISO 8601). */
  createdAt: string;
  /** lead.upserted / callback.created: the /leads body; request.upserted: the /requests body. */
  data: Record<string, unknown>;
  /** 1 for the first attempt. */
  attempt: number;
}

/**
 * What one attempt came to.
 * - delivered: accepted (2xx, or the vendor's "already there" answer).
 * - retry: try again later (network error, timeout, 408/425/429/5xx); `retryAfterMs` when the vendor said;
 *   `uncounted`: nothing was sent (see `busy`), so the attempt does not count against the schedule.
 * - dead: refused for this record for good (other 4xx); an operator may retry or discard it.
 * - throttled: a quota of the whole destination is spent until `resumeAt` (epoch ms): every
 *   delivery of the destination waits until then, and this attempt does not count against the schedule.
 * - pause: the destination itself must stop (e.g. Standard Webhooks' 410 Gone): it is paused with
 *   `reason` until an operator resumes it; the delivery waits, it does not die.
 * `excerpt` is the start of the vendor's answer, for the attempt log (masked and cut to 2 KiB by the outbox).
 */
export type AttemptOutcome =
  | { kind: "delivered"; httpStatus: number; excerpt?: string }
  | { kind: "retry"; httpStatus: number | null; error: string; retryAfterMs?: number; excerpt?: string; uncounted?: boolean }
  | { kind: "dead"; httpStatus: number | null; error: string; excerpt?: string }
  | { kind: "throttled"; httpStatus: number | null; error: string; resumeAt: number; excerpt?: string }
  | { kind: "pause"; httpStatus: number | null; error: string; reason: string; excerpt?: string };

/** Remote ids this destination created for the record being delivered (remembered across attempts). */
export interface RemoteIds {
  get(kind: string): string | undefined;
  /** Persists at once (its own statement), before the next call is made. */
  set(kind: string, id: string): Promise<void>;
}

export interface DestinationContext {
  /** fetch with the destination's time limit; redirects are not followed. Throws on network errors and timeouts. */
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
  remote: RemoteIds;
  /**
   * Runs `fn` holding a short lock on `key` at this destination, shared by every
   * deliverer: e.g. "find or create the person with this email", which two
   * records of one person delivered at the same moment must not both do.
   * Resolves to `undefined` (without running `fn`) while another deliverer holds
   * it: answer `busy(key)` and the delivery is tried again shortly.
   */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T | undefined>;
  log: Logger;
}

export interface DestinationCheck {
  ok: boolean;
  /** The URL answered at all. */
  reachable: boolean;
  /** true/false when the answer told; null when it could not be told. */
  credentialsAccepted: boolean | null;
  httpStatus: number | null;
  message: string;
}

/** Deliveries per second and burst, shared by every sweeper of the destination. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export type Env = Record<string, string | undefined>;

export interface DestinationModule<S = unknown> {
  /** Lower-case name used in settings, the database and the operator tools. */
  readonly name: string;
  /**
   * The settings from the environment: undefined when the destination is not
   * configured (its enabling variable is unset). Throws an Error naming the
   * variable when it is configured wrongly (half set, malformed URL or secret).
   */
  settings(env: Env): S | undefined;
  /** Default pace from the vendor's documented limit (overridable by `<NAME>_RATE_LIMIT`). */
  rateLimit(settings: S): RateLimit;
  /** Most HTTP calls one delivery makes (sizes its lease: calls × timeout). */
  readonly maxCallsPerDelivery: number;
  /** One attempt. Never throws for HTTP or network failures: it classifies them. */
  deliver(event: DeliveryEvent, settings: S, ctx: DestinationContext): Promise<AttemptOutcome>;
  /** Checks the URL and the credentials without creating anything. */
  test(settings: S, ctx: DestinationContext): Promise<DestinationCheck>;
  /** The variables that point this destination at its local double (base URL given). */
  localEnv(doubleUrl: string): Record<string, string>;
}

/** The outcome for a delivery that found `what` locked by another deliverer (retried soon, not a server failure). */
export function busy(what: string): AttemptOutcome {
  return { kind: "retry", httpStatus: 409, error: `busy: another delivery is working on ${what}; tried again shortly`, retryAfterMs: 1_000, uncounted: true };
}
