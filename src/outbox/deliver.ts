/**
 * One delivery attempt of a claimed event, and the immediate path used right
 * after a function commits: claim that event, send it, and while the CRM
 * keeps accepting, send the next events of the same aggregate too.
 */
import type { Sql } from "../db/sql.ts";
import { classifyNetworkError, classifyResponse } from "../crm/classify-response.ts";
import type { AttemptOutcome, Destination } from "../crm/destination.ts";
import type { Logger } from "../log.ts";
import { claimDue } from "./claim.ts";
import { completeEvent } from "./complete.ts";
import { failEvent } from "./fail.ts";
import { nextRetryDelay } from "./retry-schedule.ts";
import type { ClaimedEvent } from "./types.ts";

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

export async function attemptDelivery(ctx: DeliveryContext, event: ClaimedEvent): Promise<AttemptResult> {
  const started = performance.now();
  const outcome = await send(ctx, event);
  const durationMs = Math.round(performance.now() - started);
  let result: AttemptResult;
  let retryInMs: number | null = null;
  if (outcome.kind === "delivered") {
    result = (await completeEvent(ctx.sql, event, outcome.httpStatus)) ? "delivered" : "lease_lost";
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
  return result;
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

/** The immediate path. Never throws: whatever is left is the sweeper's. */
export async function deliverNow(ctx: DeliveryContext, eventId: string): Promise<void> {
  if (!ctx.destination.enabled) return;
  try {
    let [event] = await claimDue(ctx.sql, { limit: 1, leaseMs: ctx.leaseMs, eventId });
    for (let sent = 0; event && sent < CHAIN_LIMIT; sent++) {
      if ((await attemptDelivery(ctx, event)) !== "delivered") return;
      [event] = await claimDue(ctx.sql, { limit: 1, leaseMs: ctx.leaseMs, aggregateId: event.aggregateId });
    }
  } catch (err) {
    ctx.log.error("crm immediate delivery failed; the sweeper will retry", {
      function: ctx.origin,
      event_id: eventId,
      error: (err as Error).message,
    });
  }
}
