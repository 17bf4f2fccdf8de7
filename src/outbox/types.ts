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
