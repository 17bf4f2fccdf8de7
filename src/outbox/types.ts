export type EventState = "pending" | "delivered" | "dead" | "skipped";
export type CrmEndpoint = "/leads" | "/requests";
export type AggregateType = "lead" | "callback" | "request";

/** An event about to be written in the same statement as its business row. */
export interface NewCrmEvent {
  id: string;
  endpoint: CrmEndpoint;
  aggregateType: AggregateType;
  aggregateId: string;
  body: Record<string, unknown>;
}

/**
 * The first lease of an event, taken when it is written: the function that
 * writes an event for a brand-new lead, callback or request (nothing earlier
 * can exist for it) owns its first attempt without a separate claim. If that
 * function dies, the sweeper takes the event once the lease runs out.
 */
export interface FirstLease {
  claimToken: string;
  leaseMs: number;
}

/** An event a deliverer holds a lease on. `claimToken` proves the lease is still its own. */
export interface ClaimedEvent {
  id: string;
  destination: string;
  endpoint: CrmEndpoint;
  aggregateId: string;
  body: Record<string, unknown>;
  attempts: number;
  claimToken: string;
}
