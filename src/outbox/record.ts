/**
 * Records finished attempts, many in one statement (graphile-worker's and
 * River's batched completion): each delivery's new state, its attempt-log
 * row, when a destination delivered again its circuit closed, and when a
 * record's head was delivered its next delivery made the head. A
 * completion whose claim token no longer matches (the lease ran out and
 * someone else took the delivery) changes nothing but the attempt log.
 */
import type { Sql } from "../db/sql.ts";
import { maskText } from "../mask.ts";
import type { AttemptRecord, DeliveryState, RecordedAttempt } from "./types.ts";

interface Row {
  event_id: string;
  destination: string;
  record_id: string;
  state: DeliveryState;
  has_next: boolean;
}

const outcomeName = (r: AttemptRecord) =>
  r.outcome.kind === "delivered" ? "delivered"
    : r.outcome.kind === "throttled" ? "throttled"
    : r.outcome.kind === "pause" ? "paused"
    : r.state === "dead" ? "dead" : "retry";

export async function recordAttempts(sql: Sql, records: AttemptRecord[]): Promise<RecordedAttempt[]> {
  if (records.length === 0) return [];
  // One JSON parameter (not JS arrays: see enqueue.ts).
  const rowsIn = records.map((r) => ({
    event_id: r.delivery.eventId,
    destination: r.delivery.destination,
    claim_token: r.delivery.claimToken,
    state: r.state,
    retry_ms: r.retryInMs,
    counted: r.counted ? 1 : 0,
    http_status: r.outcome.httpStatus,
    error: "error" in r.outcome ? maskText(r.outcome.error).slice(0, 1000) : null,
    excerpt: r.outcome.excerpt ? maskText(r.outcome.excerpt) : null,
    duration_ms: r.durationMs,
    attempt: r.delivery.attempts + 1,
    outcome: outcomeName(r),
  }));
  const rows = await sql<Row[]>`
    with r as (
      select * from jsonb_to_recordset(${sql.json(rowsIn as never)}) as r(
        event_id uuid, destination text, claim_token uuid, state text, retry_ms float8, counted int,
        http_status int, error text, excerpt text, duration_ms int, attempt int, outcome text)
    ),
    upd as (
      update crm_deliveries d set
        state = r.state,
        attempts = d.attempts + r.counted,
        next_attempt_at = case when r.state = 'pending' then now() + r.retry_ms * interval '1 millisecond' else d.next_attempt_at end,
        locked_until = null, claim_token = null,
        last_status = r.http_status, last_error = r.error,
        delivered_at = case when r.state = 'delivered' then now() else d.delivered_at end,
        updated_at = now()
      from r
      -- By primary key, whatever the plan: a cached generic plan takes jsonb_to_recordset
      -- for 100 rows and would otherwise hash-join them against a scan of the whole table.
      -- (Statistics taken while the table was empty know nothing of event_id, and that scan
      -- wins until autovacuum analyzes again, after 1,000 changed rows. A per-row key probe
      -- and an update by ctid avoided it, but made every completion four times dearer.)
      where d.event_id = any (array(select event_id from r))
        and d.event_id = r.event_id and d.destination = r.destination and d.claim_token = r.claim_token
      returning d.event_id, d.destination, d.record_id, d.seq, d.state
    ),
    log as (
      insert into crm_attempts (event_id, destination, attempt, http_status, duration_ms, outcome, error, response_excerpt)
      select r.event_id, r.destination, r.attempt, r.http_status, r.duration_ms,
             case when u.event_id is null then 'lease_lost' else r.outcome end, r.error, left(r.excerpt, 2000)
      from r left join upd u on u.event_id = r.event_id and u.destination = r.destination
    ),
    healed as (
      update crm_destinations c set circuit_open_until = null, circuit_reason = null, circuit_opened_at = null, updated_at = now()
      where c.circuit_open_until is not null and c.name in (select destination from upd where state = 'delivered')
    ),
    -- A delivered head's record: its next delivery becomes the head, and goes now if it was
    -- parked. In this statement, so no crash can leave it parked behind nothing. Found from
    -- each delivered row (a lateral: one probe of the order index each, whatever the plan),
    -- then updated by primary key. A row seen 'pending' counts too: a park of it committing
    -- while this statement waits is re-checked on the parked row (read committed), which this
    -- update then makes pending again.
    nexts as materialized (
      select x.event_id, x.destination from upd u
      cross join lateral (
        select m.event_id, m.destination, m.state from crm_deliveries m
        where m.destination = u.destination and m.record_id = u.record_id and m.seq > u.seq
          and m.state in ('pending', 'blocked', 'dead')
        order by m.seq limit 1) x
      where u.state = 'delivered' and x.state <> 'dead'
    ),
    unparked as (
      update crm_deliveries n set state = 'pending',
             next_attempt_at = case when n.state = 'blocked' then now() else n.next_attempt_at end,
             updated_at = now()
      from nexts x
      -- "Pending or blocked" spelled so that no partial index's predicate matches: by primary key.
      where n.event_id = x.event_id and n.destination = x.destination
        and n.state not in ('delivered', 'dead', 'discarded', 'superseded')
      returning n.destination, n.record_id
    )
    select u.event_id, u.destination, u.record_id, u.state,
           exists (select 1 from unparked x where x.destination = u.destination and x.record_id = u.record_id) as has_next
    from upd u`;
  const byKey = new Map(rows.map((r) => [`${r.event_id}/${r.destination}`, r]));
  return records.map(({ delivery: d }) => {
    const row = byKey.get(`${d.eventId}/${d.destination}`);
    return {
      eventId: d.eventId,
      destination: d.destination,
      recordId: d.recordId,
      completed: Boolean(row),
      state: row?.state ?? null,
      hasNext: row?.has_next ?? false,
    };
  });
}

/**
 * Collects attempt records and writes them in batches: a flush as soon as
 * `maxBatch` are waiting, or after `maxWaitMs`. Each caller gets its own result.
 */
export function createCompleter(sql: Sql, opts: { maxBatch?: number; maxWaitMs?: number } = {}) {
  const maxBatch = opts.maxBatch ?? 64;
  const maxWaitMs = opts.maxWaitMs ?? 2;
  let queue: Array<{ record: AttemptRecord; resolve: (r: RecordedAttempt) => void; reject: (e: unknown) => void }> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    recordAttempts(sql, batch.map((b) => b.record)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i])),
      // One bad record must not fail the others: record them one by one.
      (err) => {
        if (batch.length === 1) return batch[0].reject(err);
        for (const b of batch) recordAttempts(sql, [b.record]).then(([r]) => b.resolve(r), b.reject);
      },
    );
  };

  return {
    /** Writes what is waiting now (a caller that knows its batch is whole). */
    flush,
    record(record: AttemptRecord): Promise<RecordedAttempt> {
      return new Promise((resolve, reject) => {
        queue.push({ record, resolve, reject });
        if (queue.length >= maxBatch) flush();
        else timer ??= setTimeout(flush, maxWaitMs);
      });
    },
  };
}

export type Completer = ReturnType<typeof createCompleter>;
