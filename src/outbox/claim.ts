/**
 * Claims due deliveries of one destination with a lease, in one statement:
 * - only the head of a record (no earlier pending, blocked or dead delivery of
 *   that record at this destination) is ever claimed, so a record's events
 *   arrive in order, per destination;
 * - when later snapshots of the record wait behind the head, the newest goes
 *   (of the first RECORD_WINDOW: a longer queue collapses in steps of that
 *   many) instead and the ones in between are `superseded` (every event body is a
 *   full snapshot: the destination ends with the same data, sooner) — unless
 *   the head's last attempt got no answer (timeout, dropped connection): the
 *   destination may still apply that request late, so the head is sent again
 *   first (its Idempotency-Key makes the repeat harmless) and the newer
 *   snapshot follows it, never the other way round;
 * - the destination's gate: paused, throttled or circuit open → nothing
 *   (a circuit open past its time lets one probe through); and its rate-limit
 *   bucket (tokens refilled at `perSecond`, at most `burst`), shared by every
 *   sweeper through the crm_destinations row.
 * Due rows found behind an earlier delivery are returned as `behind` so the
 * caller parks them (./park.ts): a parked (`blocked`) row is out of the due
 * index, so a backlog behind dead heads costs the claim nothing.
 */
import type { Sql } from "../db/sql.ts";
import type { RateLimit } from "../destinations/types.ts";
import type { ClaimedDelivery, EventType, RecordType } from "./types.ts";

export interface ClaimOptions {
  destination: string;
  limit: number;
  leaseMs: number;
  /** Pace through the destination's bucket (the sweeper); omit for the immediate path. */
  rate?: RateLimit;
  /** Only this event's delivery (the immediate path, after a function's commit). */
  eventId?: string;
  /** Only this record's head (sending a record's next delivery at once). */
  recordId?: string;
}

export interface ClaimResult {
  claimed: ClaimedDelivery[];
  /** Due deliveries waiting behind an earlier one of their record: park them. */
  behind: string[];
  /** Heads that were due but not granted (rate limit): the caller may wait for tokens. */
  waiting: number;
}

interface Row {
  kind: "claimed" | "behind" | "waiting";
  event_id: string | null;
  record_id: string | null;
  seq: string | null;
  attempts: number | null;
  claim_token: string | null;
  type: EventType | null;
  record_type: RecordType | null;
  created_at: Date | null;
  data: Record<string, unknown> | null;
  remote: Record<string, string> | null;
  n: number | null;
}

/** How many of a record's undelivered deliveries a claim reads: the newest of them goes. */
const RECORD_WINDOW = 64;

export async function claim(sql: Sql, opts: ClaimOptions): Promise<ClaimResult> {
  const d = opts.destination;
  // Look at a few more due rows than we may take, so rows behind a head do not starve the batch.
  // The limit is written into the statement and the optional filters are left out when unset:
  // a prepared statement's generic plan then still walks the due index for a few rows. With
  // the limit a parameter and "($1 is null or event_id = $1)", the generic plan of a large
  // due backlog read the whole backlog and sorted it (2,000 rows per claim in the plan test).
  const scan = opts.eventId ? 1 : Math.max(Math.trunc(opts.limit) * 2, 8);
  const bucket = opts.rate
    ? sql`bucket as (
        select least(${opts.rate.burst}::float8,
                     coalesce(tokens, ${opts.rate.burst}::float8)
                     + extract(epoch from now() - refilled_at) * ${opts.rate.perSecond}::float8) as avail
        from crm_destinations where name = ${d} for update),`
    : sql`bucket as (select 1e9::float8 as avail),`;
  const takeTokens = opts.rate
    ? sql`, spend as (
        update crm_destinations b set tokens = (select avail from bucket) - (select count(*) from granted),
               refilled_at = now()
        where b.name = ${d})`
    : sql``;
  const leaseUntil = Date.now() + opts.leaseMs; // before the statement: never later than the database's lease
  const rows = await sql<Row[]>`
    with gate as (
      select coalesce(bool_and(paused_at is null
                      and (throttled_until is null or throttled_until <= now())
                      and (circuit_open_until is null or circuit_open_until <= now())), true) as open,
             coalesce(bool_or(circuit_open_until is not null), false) as probing
      from crm_destinations where name = ${d}
    ),
    ${bucket}
    cand as (
      select c.event_id, c.record_id, c.seq, c.next_attempt_at,
             (c.attempts = 0 or c.last_status is not null) as answered
      from crm_deliveries c
      where c.destination = ${d} and c.state = 'pending' and c.next_attempt_at <= now()
        and (c.locked_until is null or c.locked_until <= now())
        ${opts.eventId ? sql`and c.event_id = ${opts.eventId}::uuid` : sql``}
        ${opts.recordId ? sql`and c.record_id = ${opts.recordId}::uuid` : sql``}
        and (select open from gate)
      order by c.next_attempt_at, c.seq
      limit ${sql.unsafe(String(scan))}
      for update of c skip locked
    ),
    -- Each candidate's record at this destination, read once (one probe of the order index):
    -- its first undelivered deliveries in order (at most RECORD_WINDOW: a longer queue collapses
    -- that many at a time). The candidate is the head when it comes first.
    heads as (
      select c.*, r.seqs[1] = c.seq as is_head, r.states, r.ids
      from cand c
      cross join lateral (
        select array_agg(m.seq order by m.seq) as seqs, array_agg(m.state order by m.seq) as states,
               array_agg(m.event_id order by m.seq) as ids
        from (select m.seq, m.state, m.event_id from crm_deliveries m
              where m.destination = ${d} and m.record_id = c.record_id and m.state in ('pending', 'blocked', 'dead')
              order by m.seq limit ${sql.unsafe(String(RECORD_WINDOW))}) m) r
    ),
    -- Which of the record's deliveries goes (t, its place in the record's order): the newest one
    -- waiting before any dead one, or the head itself when its last attempt got no answer.
    picked as (
      select h.event_id, h.record_id, h.ids,
             case when h.answered then coalesce(array_position(h.states, 'dead', 2) - 1, cardinality(h.ids)) else 1 end as t,
             row_number() over (order by h.next_attempt_at, h.seq) as rn
      from heads h where h.is_head
    ),
    granted as (
      select p.* from picked p, gate g
      where p.rn <= least(${opts.limit}, case when g.probing then 1 else ${opts.limit} end, (select floor(avail) from bucket))
    )${takeTokens},
    -- The head and the snapshots between it and the one that goes are superseded, and that one
    -- leased. Both updates take their rows by primary key from an array ("= any(array(…))"):
    -- joined to the unnested ids instead, the planner guesses ten rows per record and, on
    -- statistics taken with the backlog, scans the whole table (2,000 rows in the plan test).
    sup as (
      update crm_deliveries s set state = 'superseded', locked_until = null, claim_token = null, updated_at = now()
      where s.event_id = any (array(select unnest(g.ids[1:g.t - 1]) from granted g)) and s.destination = ${d}
        -- "Pending or blocked" spelled so that no partial index's predicate matches: by primary key.
        and s.state not in ('delivered', 'dead', 'discarded', 'superseded')
    ),
    claimed as (
      -- updated_at (an indexed column) moves only when the state does: a lease alone is a HOT update.
      update crm_deliveries c set state = 'pending', locked_until = now() + ${opts.leaseMs} * interval '1 millisecond',
             claim_token = gen_random_uuid(), updated_at = case when c.state = 'pending' then c.updated_at else now() end
      where c.event_id = any (array(select g.ids[g.t] from granted g)) and c.destination = ${d}
      returning c.event_id, c.record_id, c.seq, c.attempts, c.claim_token
    )
    select 'claimed' as kind, c.event_id, c.record_id, c.seq::text as seq, c.attempts, c.claim_token,
           e.type, e.record_type, e.created_at, e.data,
           (select jsonb_object_agg(r.kind, r.remote_id) from crm_remote_ids r
            where r.destination = ${d} and r.record_id = c.record_id) as remote,
           null::int as n
    from claimed c join crm_events e on e.id = c.event_id
    union all
    select 'behind', h.event_id, null, null, null, null, null, null, null, null, null, null
    from heads h where not h.is_head
    union all
    select 'waiting', null, null, null, null, null, null, null, null, null, null,
           ((select count(*) from picked) - (select count(*) from granted))::int`;
  const result: ClaimResult = { claimed: [], behind: [], waiting: 0 };
  for (const r of rows) {
    if (r.kind === "behind") result.behind.push(r.event_id!);
    else if (r.kind === "waiting") result.waiting = r.n ?? 0;
    else {
      result.claimed.push({
        eventId: r.event_id!,
        destination: d,
        recordId: r.record_id!,
        seq: Number(r.seq),
        type: r.type!,
        recordType: r.record_type!,
        createdAt: r.created_at!.toISOString(),
        data: r.data!,
        attempts: r.attempts!,
        claimToken: r.claim_token!,
        leaseUntil,
        remote: r.remote ?? {},
      });
    }
  }
  return result;
}
