-- Many destinations (CONTRACT §5): an immutable event, one delivery per
-- (event, enabled destination), an append-only attempt log, the destinations'
-- own state (pause, circuit, rate-limit bucket) and the remote ids a
-- destination created. Replaces the one-CRM outbox of 20261123000200, whose
-- rows are carried over (monelec deliveries keep their state and history).
--
-- Hot path: a form writes one crm_events row and N crm_deliveries rows in its
-- own statement. crm_deliveries is kept narrow (no body, no history) so claims
-- and completions stay cheap; bodies live in crm_events, history in crm_attempts.

-- 1. The old outbox table is renamed out of the way (once).
do $m$
begin
  if exists (select 1 from information_schema.columns
             where table_schema = 'public' and table_name = 'crm_events' and column_name = 'endpoint') then
    alter table crm_events rename to crm_events_v1;
    drop index if exists crm_events_due_idx;
    drop index if exists crm_events_aggregate_idx;
    drop index if exists crm_events_aggregate_all_idx;
  end if;
end
$m$;

-- 2. Events: what happened to a record, as the canonical snapshot (the body of
-- CONTRACT §3: /leads for lead.upserted and callback.created, /requests for
-- request.upserted). Never updated; deleted by retention or erasure.
create table if not exists crm_events (
  id uuid primary key,                         -- Idempotency-Key / webhook-id
  seq bigint generated always as identity,     -- creation order within a record
  type text not null check (type in ('lead.upserted', 'callback.created', 'request.upserted')),
  record_type text not null check (record_type in ('lead', 'callback', 'request')),
  record_id uuid not null,
  data jsonb not null,
  -- How many deliveries were created with it; 0 = no destination was enabled
  -- ("skipped": `crm backfill` sends the record's snapshot later).
  fanout smallint not null default 0,
  created_at timestamptz not null default now()
);
create unique index if not exists crm_events_seq_key on crm_events (seq);
create index if not exists crm_events_record_idx on crm_events (record_id, seq);
create index if not exists crm_events_skipped_idx on crm_events (record_id) where fanout = 0;
create index if not exists crm_events_created_idx on crm_events (created_at);

-- 3. Deliveries: one per (event, destination). `seq` is the event's, copied so
-- that ordering per (destination, record) needs no join.
--   pending     due at next_attempt_at (leased while locked_until is ahead)
--   blocked     waits behind an earlier undelivered delivery of its record
--   delivered   accepted by the destination
--   dead        refused for good or out of retries; holds its record back
--   discarded   given up on purpose by an operator (unblocks the record)
--   superseded  a newer snapshot of the record went instead
create table if not exists crm_deliveries (
  event_id uuid not null references crm_events (id) on delete cascade,
  destination text not null check (destination ~ '^[a-z][a-z0-9_]{1,30}$'),
  record_id uuid not null,
  seq bigint not null,
  state text not null default 'pending'
    check (state in ('pending', 'blocked', 'delivered', 'dead', 'discarded', 'superseded')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  claim_token uuid,
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  delivered_at timestamptz,
  primary key (event_id, destination)
) with (fillfactor = 80);

-- The claim: a destination's due deliveries, oldest first.
create index if not exists crm_deliveries_due_idx
  on crm_deliveries (destination, next_attempt_at, seq) where state = 'pending';
-- Ordering: the undelivered deliveries of one record at one destination.
create index if not exists crm_deliveries_order_idx
  on crm_deliveries (destination, record_id, seq) where state in ('pending', 'blocked', 'dead');
-- Status counts per (destination, state), retention of finished deliveries by age.
create index if not exists crm_deliveries_state_idx on crm_deliveries (destination, state, updated_at);

alter table crm_deliveries set (
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000,
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000
);

-- 4. Attempt log: append-only, one row per attempt, for the operator.
create table if not exists crm_attempts (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  destination text not null,
  attempt integer not null,
  at timestamptz not null default now(),
  http_status integer,
  duration_ms integer not null,
  outcome text not null check (outcome in ('delivered', 'retry', 'dead', 'throttled', 'paused', 'lease_lost')),
  error text,
  response_excerpt text check (octet_length(response_excerpt) <= 2048)
);
create index if not exists crm_attempts_delivery_idx on crm_attempts (event_id, destination, id);
create index if not exists crm_attempts_destination_idx on crm_attempts (destination, id);

-- 5. Destinations' own state: operator pause, circuit breaker, rate-limit bucket.
create table if not exists crm_destinations (
  name text primary key,
  paused_at timestamptz,
  paused_reason text,
  paused_by text,
  circuit_open_until timestamptz,          -- set: the circuit is open; a probe may go once it has passed
  circuit_reason text,
  circuit_opened_at timestamptz,
  throttled_until timestamptz,             -- a vendor quota (HubSpot DAILY, Salesforce) resets then
  tokens double precision,                 -- rate-limit bucket; null = full
  refilled_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- 6. Remote ids a destination created for a record (a HubSpot contact, a
-- Pipedrive person and deal…), so a retry or a later update never duplicates.
create table if not exists crm_remote_ids (
  destination text not null,
  record_id uuid not null,
  kind text not null,
  remote_id text not null,
  created_at timestamptz not null default now(),
  primary key (destination, record_id, kind)
);

-- 7. Carry the old outbox over, then drop it.
do $m$
begin
  if exists (select 1 from pg_class where relname = 'crm_events_v1' and relkind = 'r') then
    insert into crm_events (id, seq, type, record_type, record_id, data, fanout, created_at)
    overriding system value
    select id, seq,
           case aggregate_type when 'lead' then 'lead.upserted' when 'callback' then 'callback.created'
                               else 'request.upserted' end,
           aggregate_type, aggregate_id, body, case when state = 'skipped' then 0 else 1 end, created_at
    from crm_events_v1
    on conflict (id) do nothing;
    insert into crm_deliveries (event_id, destination, record_id, seq, state, attempts, next_attempt_at,
                                locked_until, claim_token, last_status, last_error, created_at, updated_at, delivered_at)
    select id, destination, aggregate_id, seq, state, attempts, next_attempt_at, locked_until, claim_token,
           last_status, last_error, created_at, updated_at, delivered_at
    from crm_events_v1 where state <> 'skipped'
    on conflict do nothing;
    perform setval(pg_get_serial_sequence('crm_events', 'seq'),
                   greatest((select max(seq) from crm_events), 1));
    drop table crm_events_v1;
  end if;
end
$m$;

alter table crm_events enable row level security;
alter table crm_deliveries enable row level security;
alter table crm_attempts enable row level security;
alter table crm_destinations enable row level security;
alter table crm_remote_ids enable row level security;
