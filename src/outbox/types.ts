import type { AttemptOutcome, EventType, RecordType } from "../destinations/types.ts";

export type { EventType, RecordType };
export type DeliveryState = "pending" | "blocked" | "delivered" | "dead" | "discarded" | "superseded";

/** An event about to be written in the same statement as its business row. */
export interface NewEvent {
  id: string;
  type: EventType;
  recordType: RecordType;
  recordId: string;
  /** The CONTRACT §3 body of the event. */
  data: Record<string, unknown>;
  /**
   * When it happened (ISO 8601). Set by the outbox write when absent, and stored
   * as the event's created_at, so that the immediate path and a later retry send
   * the same event (a webhook's `timestamp`) byte for byte.
   */
  createdAt?: string;
}

/**
 * Which deliveries an event gets, decided by the writer from its config: one
 * per enabled destination. `lease`: only for the first event of a brand-new
 * record (nothing earlier can exist for it), whose writer then owns the first
 * attempt of every delivery without a claim; if it dies, the sweeper takes
 * them over once the lease runs out.
 */
export interface Fanout {
  destinations: Array<{ name: string; leaseMs: number }>;
  /** `leasedAt`: this process's clock before the statement that writes the lease (see ClaimedDelivery.leaseUntil). */
  lease?: { claimToken: string; leasedAt: number };
}

/** A delivery a deliverer holds a lease on. `claimToken` proves the lease is still its own. */
export interface ClaimedDelivery {
  eventId: string;
  destination: string;
  recordId: string;
  seq: number;
  type: EventType;
  recordType: RecordType;
  createdAt: string;
  data: Record<string, unknown>;
  /** Attempts made before this one. */
  attempts: number;
  claimToken: string;
  /**
   * When the lease ends, by this process's clock, taken before the statement that wrote it
   * (so never later than the database's). No call starts that could end after it: past it,
   * another deliverer may hold the delivery, and two attempts at once could each create the
   * same object at a vendor without an idempotency key.
   */
  leaseUntil: number;
  /** Remote ids the destination created for this record so far. */
  remote: Record<string, string>;
}

/** One finished attempt, as the completer records it. */
export interface AttemptRecord {
  delivery: ClaimedDelivery;
  outcome: AttemptOutcome;
  durationMs: number;
  /** The state the delivery moves to. */
  state: "delivered" | "pending" | "dead";
  /** For `pending`: when to try again. */
  retryInMs: number;
  /** Whether this attempt counts against the retry schedule. */
  counted: boolean;
}

export interface RecordedAttempt {
  eventId: string;
  destination: string;
  recordId: string;
  /** False when the lease was lost to another deliverer (nothing was written but the attempt log). */
  completed: boolean;
  state: DeliveryState | null;
  /** Delivered, and the record's next delivery at this destination is now its head (due, pending). */
  hasNext: boolean;
}
