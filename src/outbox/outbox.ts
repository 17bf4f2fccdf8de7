/**
 * The outbox as one isolate runs it: its database pool, the enabled
 * destinations, the retry policy, the batched completer and the cached
 * destination states. Built once per isolate (src/app-deps.ts).
 */
import type { Pool } from "../db/sql.ts";
import type { DestinationModule, RateLimit } from "../destinations/types.ts";
import type { Logger } from "../log.ts";
import { type Completer, createCompleter } from "./record.ts";
import { createDestinationStates, type DestinationStates } from "./destination-state.ts";

export interface ActiveDestination {
  name: string;
  module: DestinationModule<unknown>;
  settings: unknown;
  rate: RateLimit;
  /** How long a claimed delivery stays invisible to other deliverers. */
  leaseMs: number;
}

export interface Outbox {
  sql: Pool;
  log: Logger;
  /** The function doing the delivery, for the attempt log line. */
  origin: string;
  destinations: Map<string, ActiveDestination>;
  timeoutMs: number;
  retryScheduleMs: number[];
  completer: Completer;
  states: DestinationStates;
  fetch?: typeof fetch;
}

export interface OutboxOptions {
  sql: Pool;
  log: Logger;
  origin: string;
  destinations: ActiveDestination[];
  timeoutMs: number;
  retryScheduleMs: number[];
  fetch?: typeof fetch;
  /** Completion batching (default: up to 64 records, 2 ms). */
  batch?: { maxBatch?: number; maxWaitMs?: number };
}

export function createOutbox(opts: OutboxOptions): Outbox {
  return {
    sql: opts.sql,
    log: opts.log,
    origin: opts.origin,
    destinations: new Map(opts.destinations.map((d) => [d.name, d])),
    timeoutMs: opts.timeoutMs,
    retryScheduleMs: opts.retryScheduleMs,
    completer: createCompleter(opts.sql, opts.batch),
    states: createDestinationStates(opts.sql),
    fetch: opts.fetch,
  };
}
