-- The operator console (CONTRACT §6): indexes its lists and overview need at a
-- million deliveries, the operators' activity log, and the alert incidents the
-- sweeper keeps (one message per incident, claimed with a conditional update so
-- several isolates never send the same one twice).

-- Deliveries list, newest first, keyset on (seq, destination): unfiltered,
-- by state, by destination and state.
create index if not exists crm_deliveries_list_idx on crm_deliveries (seq, destination);
-- Dead ones across destinations: few rows, so a partial index (nothing to write for the others).
create index if not exists crm_deliveries_dead_idx on crm_deliveries (seq, destination) where state = 'dead';
create index if not exists crm_deliveries_dest_state_seq_idx on crm_deliveries (destination, state, seq);
-- Overview: oldest waiting delivery, last success and lag per destination.
create index if not exists crm_deliveries_waiting_idx
  on crm_deliveries (destination, created_at) where state in ('pending', 'blocked');
create index if not exists crm_deliveries_delivered_idx
  on crm_deliveries (destination, delivered_at) where delivered_at is not null;
-- Overview: attempts per minute and outcome, by destination.
create index if not exists crm_attempts_at_idx on crm_attempts (destination, at) include (outcome);

-- Search by exact email / phone: which records are that person's.
create index if not exists leads_email_idx on leads (email);
create index if not exists leads_phone_idx on leads (phone);
create index if not exists customers_phone_idx on customers (phone);
create index if not exists callbacks_phone_idx on callbacks (phone);

-- Who did what, when, to which deliveries (console and `npm run crm` alike).
create table if not exists operator_actions (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor text not null check (length(actor) <= 200),
  source text not null check (source in ('console', 'cli')),
  action text not null check (length(action) <= 40),
  filter jsonb not null default '{}'::jsonb,
  count integer,
  detail text check (length(detail) <= 1000)
);
create index if not exists operator_actions_at_idx on operator_actions (id desc);

-- Alert incidents: open while their condition holds (resolved_at null); at most
-- one open incident per (kind, key). A notification is claimed before it is
-- sent (claimed_at), marked once the webhook accepted it (…_notified_at).
create table if not exists alert_incidents (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('dead', 'circuit', 'pending_age')),
  key text not null,
  opened_at timestamptz not null default now(),
  resolved_at timestamptz,
  detail text,
  open_notified_at timestamptz,
  resolved_notified_at timestamptz,
  claimed_at timestamptz,
  send_failures integer not null default 0
);
create unique index if not exists alert_incidents_open_key on alert_incidents (kind, key) where resolved_at is null;
create index if not exists alert_incidents_unsent_idx on alert_incidents (id)
  where open_notified_at is null or (resolved_at is not null and resolved_notified_at is null);

alter table operator_actions enable row level security;
alter table alert_incidents enable row level security;
