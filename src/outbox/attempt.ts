/**
 * One attempt of a claimed delivery: the destination's calls, the outcome
 * turned into the delivery's next state (retry schedule, Retry-After, vendor
 * quota, circuit), the attempt recorded (batched) and logged as one JSON line.
 */
import type { AttemptOutcome, DestinationContext } from "../destinations/types.ts";
import { circuitOpenMs, noteServerFailure, pauseDestination, throttleDestination } from "./destination-events.ts";
import type { Outbox } from "./outbox.ts";
import { maskKnownValues } from "./mask-answer.ts";
import { nextRetryDelay } from "./retry-schedule.ts";
import type { AttemptRecord, ClaimedDelivery, RecordedAttempt } from "./types.ts";

export type AttemptResult = "delivered" | "retry" | "dead" | "throttled" | "paused" | "lease_lost";

/** How long a delivery of a paused destination waits before it is looked at again. */
const PAUSED_RECHECK_MS = 60_000;

export type SettledAttempt = RecordedAttempt & { result: AttemptResult };

/** One attempt, sent and recorded. */
export async function attempt(ob: Outbox, delivery: ClaimedDelivery): Promise<SettledAttempt> {
  return await settle(ob, await send(ob, delivery));
}

/**
 * The destination's calls and the state they lead to, nothing written yet.
 * Once it resolves the destination is done with this delivery: the sweeper
 * may claim its next deliveries while `settle` records this one.
 */
export async function send(ob: Outbox, delivery: ClaimedDelivery): Promise<AttemptRecord> {
  const dest = ob.destinations.get(delivery.destination);
  const started = performance.now();
  const lease = { ranOut: false };
  let outcome: AttemptOutcome;
  if (!dest) {
    outcome = { kind: "retry", httpStatus: null, error: `destination ${delivery.destination} is not configured in this function` };
  } else {
    try {
      outcome = await dest.module.deliver(
        { id: delivery.eventId, type: delivery.type, recordType: delivery.recordType, recordId: delivery.recordId,
          createdAt: delivery.createdAt, data: delivery.data, attempt: delivery.attempts + 1 },
        dest.settings,
        context(ob, delivery, lease),
      );
    } catch (err) {
      outcome = { kind: "retry", httpStatus: null, error: `${delivery.destination}: ${(err as Error)?.message ?? String(err)}` };
    }
  }
  if (lease.ranOut) {
    // A call was not started: the destination did not fail, the lease was too short for it.
    outcome = { kind: "retry", httpStatus: null, uncounted: true,
      error: `${delivery.destination}: not sent, the lease would have run out during the call (another deliverer may hold it)` };
  }
  outcome = maskKnownValues(outcome, delivery.data);
  return await nextState(ob, delivery, outcome, Math.round(performance.now() - started));
}

/** Records a sent attempt (batched), applies its effects on the destination (throttle, pause, circuit) and logs it. */
export async function settle(ob: Outbox, record: AttemptRecord): Promise<SettledAttempt> {
  const { delivery, outcome, durationMs } = record;
  let recorded: RecordedAttempt;
  try {
    recorded = await ob.completer.record(record);
  } catch (err) {
    ob.log.error("crm attempt could not be recorded; it is retried later", {
      function: ob.origin, destination: delivery.destination, event_id: delivery.eventId, error: (err as Error).message,
    });
    // Release the lease, but not for right now: a record that cannot be completed must not be resent in a loop.
    await ob.sql`update crm_deliveries set locked_until = null, claim_token = null,
                   next_attempt_at = now() + ${ob.retryScheduleMs[0]} * interval '1 millisecond'
                 where event_id = ${delivery.eventId} and destination = ${delivery.destination}
                   and claim_token = ${delivery.claimToken}`.catch(() => {});
    recorded = { eventId: delivery.eventId, destination: delivery.destination, recordId: delivery.recordId, completed: false, state: null, hasNext: false };
  }
  const result: AttemptResult = !recorded.completed ? "lease_lost"
    : outcome.kind === "throttled" ? "throttled"
    : outcome.kind === "pause" ? "paused"
    : record.state === "dead" ? "dead" : record.state === "delivered" ? "delivered" : "retry";
  await destinationEffects(ob, delivery.destination, outcome).catch((err) =>
    ob.log.error("crm destination state not updated", { function: ob.origin, destination: delivery.destination, error: (err as Error).message }));

  const line = {
    function: ob.origin,
    destination: delivery.destination,
    event_id: delivery.eventId,
    type: delivery.type,
    endpoint: delivery.type === "request.upserted" ? "/requests" : "/leads",
    attempt: delivery.attempts + 1,
    http_status: outcome.httpStatus,
    duration_ms: durationMs,
    outcome: result,
    ...("error" in outcome ? { error: outcome.error } : {}),
    ...(record.state === "pending" ? { retry_in_ms: Math.round(record.retryInMs) } : {}),
  };
  if (result === "delivered") ob.log.info("crm delivery", line);
  else ob.log.warn("crm delivery", line);
  return { ...recorded, result };
}

function context(ob: Outbox, delivery: ClaimedDelivery, lease: { ranOut: boolean }): DestinationContext {
  const doFetch = ob.fetch ?? fetch;
  return {
    fetch: (input, init) => {
      // A call that could still be running when the lease ends is not started: by then another
      // deliverer may be making the same call (a slow statement before it, a Postgres restart).
      if (Date.now() + ob.timeoutMs > delivery.leaseUntil) {
        lease.ranOut = true;
        return Promise.reject(new DOMException("the lease would run out during this call", "AbortError"));
      }
      return doFetch(input, { redirect: "manual", ...init, signal: AbortSignal.timeout(ob.timeoutMs) }).catch((err) => {
        // "timeout after 10000 ms" in the attempt log, whatever the runtime's own wording.
        if ((err as Error)?.name === "TimeoutError") throw new DOMException(`after ${ob.timeoutMs} ms`, "TimeoutError");
        throw err;
      });
    },
    remote: {
      get: (kind) => delivery.remote[kind],
      async set(kind, id) {
        delivery.remote[kind] = id;
        await ob.sql`
          insert into crm_remote_ids (destination, record_id, kind, remote_id)
          values (${delivery.destination}, ${delivery.recordId}, ${kind}, ${id})
          on conflict (destination, record_id, kind) do update set remote_id = excluded.remote_id`;
      },
    },
    async exclusive(key, fn) {
      const token = crypto.randomUUID();
      // A digest, not the key: a key may be an email address.
      const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
      const [held] = await ob.sql`
        insert into crm_locks (destination, key, token, expires_at)
        values (${delivery.destination}, ${digest}, ${token}, now() + ${ob.timeoutMs * 3 + 5_000} * interval '1 millisecond')
        on conflict (destination, key) do update set token = excluded.token, expires_at = excluded.expires_at
          where crm_locks.expires_at < now()
        returning token`;
      if (!held) return undefined;
      try {
        return await fn();
      } finally {
        await ob.sql`delete from crm_locks where destination = ${delivery.destination} and key = ${digest} and token = ${token}`
          .catch(() => {}); // it expires anyway
      }
    },
    log: ob.log.child({ function: ob.origin, destination: delivery.destination }),
  };
}

async function nextState(ob: Outbox, delivery: ClaimedDelivery, outcome: AttemptOutcome, durationMs: number): Promise<AttemptRecord> {
  const base = { delivery, outcome, durationMs };
  switch (outcome.kind) {
    case "delivered":
      return { ...base, state: "delivered", retryInMs: 0, counted: true };
    case "dead":
      return { ...base, state: "dead", retryInMs: 0, counted: true };
    case "throttled":
      return { ...base, state: "pending", retryInMs: Math.max(0, outcome.resumeAt - Date.now()), counted: false };
    case "pause":
      return { ...base, state: "pending", retryInMs: PAUSED_RECHECK_MS, counted: false };
    case "retry": {
      if (outcome.uncounted) return { ...base, state: "pending", retryInMs: outcome.retryAfterMs ?? 1_000, counted: false };
      const delay = nextRetryDelay(ob.retryScheduleMs, delivery.attempts + 1, outcome.retryAfterMs);
      if (delay !== null) return { ...base, state: "pending", retryInMs: delay, counted: true };
      // Out of retries — unless the whole destination is down: then nothing dies while its circuit is open.
      const gate = await ob.states.get(delivery.destination);
      if (gate.circuitOpen) return { ...base, state: "pending", retryInMs: ob.retryScheduleMs.at(-1)!, counted: false };
      return { ...base, state: "dead", retryInMs: 0, counted: true };
    }
  }
}

async function destinationEffects(ob: Outbox, name: string, outcome: AttemptOutcome): Promise<void> {
  if (outcome.kind === "throttled") {
    await throttleDestination(ob.sql, name, outcome.resumeAt, outcome.error);
    ob.states.invalidate();
  } else if (outcome.kind === "pause") {
    await pauseDestination(ob.sql, name, outcome.reason, "destination");
    ob.log.warn("crm destination paused by its answer", { destination: name, reason: outcome.reason });
    ob.states.invalidate();
  } else if (outcome.kind === "retry" && !outcome.uncounted && (outcome.httpStatus === null || outcome.httpStatus >= 500)) {
    if (await noteServerFailure(ob.sql, name, outcome.error, circuitOpenMs(ob.retryScheduleMs))) {
      ob.log.warn("crm destination circuit open", { destination: name, reason: outcome.error });
      ob.states.invalidate();
    }
  }
}
