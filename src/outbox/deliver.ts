/**
 * One delivery attempt of a claimed event, and the immediate path used right
 * after a function commits: send the event (claiming it first unless it was
 * written with its first lease), and while the CRM keeps accepting, send the
 * next events of the same aggregate too.
 */
import type { Sql } from "../db/sql.ts";
import { classifyNetworkError, classifyResponse } from "../crm/classify-response.ts";
import type { AttemptOutcome, Destination } from "../crm/destination.ts";
import type { Logger } from "../log.ts";
import { claimDue } from "./claim.ts";
import { completeEvent } from "./complete.ts";
import { failEvent } from "./fail.ts";
import { nextRetryDelay } from "./retry-schedule.ts";
import type { ClaimedEvent, FirstLease, NewCrmEvent } from "./types.ts";

export interface DeliveryContext {
  sql: Sql;
  destination: Destination;
  timeoutMs: number;
  retryScheduleMs: number[];
  leaseMs: number;
  log: Logger;
  /** The function doing the delivery, for the attempt log line. */
  origin: string;
  fetch?: typeof fetch;
}

export type AttemptResult = "delivered" | "retry" | "dead" | "lease_lost";

export interface Attempt {
  result: AttemptResult;
  /** Delivered, and a later event of the same aggregate is waiting. */
  nextInAggregate: boolean;
}

export async function attemptDelivery(ctx: DeliveryContext, event: ClaimedEvent): Promise<Attempt> {
  const started = performance.now();
  const outcome = await send(ctx, event);
  const durationMs = Math.round(performance.now() - started);
  let result: AttemptResult;
  let nextInAggregate = false;
  let retryInMs: number | null = null;
  if (outcome.kind === "delivered") {
    const completion = await completeEvent(ctx.sql, event, outcome.httpStatus);
    result = completion.completed ? "delivered" : "lease_lost";
    nextInAggregate = completion.completed && completion.nextInAggregate;
  } else {
    retryInMs = outcome.kind === "retry"
      ? nextRetryDelay(ctx.retryScheduleMs, event.attempts, outcome.retryAfterMs)
      : null;
    const recorded = await failEvent(ctx.sql, event, { httpStatus: outcome.httpStatus, error: outcome.error, retryInMs });
    result = !recorded ? "lease_lost" : retryInMs === null ? "dead" : "retry";
  }
  const line = {
    function: ctx.origin,
    event_id: event.id,
    endpoint: event.endpoint,
    attempt: event.attempts,
    http_status: outcome.httpStatus,
    duration_ms: durationMs,
    outcome: result,
    ...(outcome.kind !== "delivered" ? { error: outcome.error } : {}),
    ...(retryInMs !== null ? { retry_in_ms: retryInMs } : {}),
  };
  if (result === "delivered") ctx.log.info("crm delivery", line);
  else ctx.log.warn("crm delivery", line);
  return { result, nextInAggregate };
}

async function send(ctx: DeliveryContext, event: ClaimedEvent): Promise<AttemptOutcome> {
  const doFetch = ctx.fetch ?? fetch;
  try {
    const res = await doFetch(ctx.destination.buildRequest(event), { signal: AbortSignal.timeout(ctx.timeoutMs) });
    return await classifyResponse(res);
  } catch (err) {
    return classifyNetworkError(err, ctx.timeoutMs);
  }
}

/** How many further events of one aggregate the immediate path may send in a row. */
const CHAIN_LIMIT = 20;

/**
 * The immediate path, after the function's commit. `lease`: the event was
 * written with its first lease (see FirstLease), so it is sent without a claim;
 * otherwise it is claimed first, which also checks it is its aggregate's head.
 * Never throws: whatever is left is the sweeper's.
 */
export async function deliverNow(ctx: DeliveryContext, event: NewCrmEvent, lease?: FirstLease): Promise<void> {
  if (!ctx.destination.enabled) return;
  try {
    let next: ClaimedEvent | undefined = lease
      ? { ...event, destination: ctx.destination.name, attempts: 1, claimToken: lease.claimToken }
      : (await claimDue(ctx.sql, { limit: 1, leaseMs: ctx.leaseMs, eventId: event.id }))[0];
    for (let sent = 0; next && sent < CHAIN_LIMIT; sent++) {
      const attempt = await attemptDelivery(ctx, next);
      if (!attempt.nextInAggregate) return;
      [next] = await claimDue(ctx.sql, { limit: 1, leaseMs: ctx.leaseMs, aggregateId: next.aggregateId });
    }
  } catch (err) {
    ctx.log.error("crm immediate delivery failed; the sweeper will retry", {
      function: ctx.origin,
      event_id: event.id,
      error: (err as Error).message,
    });
  }
}
