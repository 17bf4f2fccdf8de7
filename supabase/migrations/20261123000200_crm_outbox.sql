-- The CRM bridge's transactional outbox. A function writes its business row and
-- its event here in one statement; deliverers claim events with a lease.
-- Superseded by 20261129000100_crm_destinations (events + deliveries), which
-- carries these rows over; when that one has run, re-running this file is a no-op.
do $m$ begin
if exists (select 1 from pg_class where relname = 'crm_deliveries') then return; end if;
create table if not exists crm_events (
  id uuid primary key,                      -- also the Idempotency-Key sent to the CRM
  seq bigint generated always as identity,  -- creation order, the tie-breaker for ordering
  destination text not null default 'monelec',
  endpoint text not null check (endpoint in ('/leads', '/requests')),
  aggregate_type text not null check (aggregate_type in ('lead', 'callback', 'request')),
  aggregate_id uuid not null,
  body jsonb not null,
  state text not null default 'pending' check (state in ('pending', 'delivered', 'dead', 'skipped')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  claim_token uuid,
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  delivered_at timestamptz
);

-- The sweeper's scan: due pending events, oldest first.
create index if not exists crm_events_due_idx on crm_events (next_attempt_at, seq) where state = 'pending';
-- The ordering check: is there an earlier undelivered event of this aggregate?
create index if not exists crm_events_aggregate_idx on crm_events (aggregate_id, seq) where state in ('pending', 'dead');
create index if not exists crm_events_aggregate_all_idx on crm_events (aggregate_id, seq);

alter table crm_events enable row level security;
end $m$;
