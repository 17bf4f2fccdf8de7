-- Payments follow the facts Stripe reports, not the order its events arrive in
-- (issue #10). Each fact only ever grows (a capture, a cancellation, a
-- failure, the largest amount refunded), so any arrival order of the same
-- events leaves the same facts, and the status is computed from them:
--   captured → paid, or refunded once amount_refunded reaches the amount;
--   else canceled; else failed; else pending.
-- A payment whose amount or currency differs from what the site priced is
-- marked with `anomaly` and never counts towards the request's status.
alter table payments add column if not exists captured boolean not null default false;
alter table payments add column if not exists amount_refunded integer not null default 0;
alter table payments add column if not exists canceled boolean not null default false;
alter table payments add column if not exists failed boolean not null default false;
alter table payments add column if not exists anomaly text;
alter table payments add column if not exists attempt integer;

-- Rows written before these facts existed: the facts their status implies.
update payments set captured = true where status in ('paid', 'refunded') and not captured;
update payments set amount_refunded = amount where status = 'refunded' and amount_refunded < amount;
update payments set canceled = true where status = 'canceled' and not canceled;
update payments set failed = true where status = 'failed' and not failed;

-- When create-payment-intent last called Stripe for this request: one call per
-- request per short window, whoever asks.
alter table requests add column if not exists stripe_called_at timestamptz;

-- What the operator must look at: a PaymentIntent the site never created, one
-- whose amount or currency is not the server's price, a second capture on one
-- request. Ids and amounts only, no personal data.
create table if not exists payment_anomalies (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('unknown_payment_intent', 'amount_mismatch', 'duplicate_capture')),
  stripe_payment_intent_id text not null check (length(stripe_payment_intent_id) <= 255),
  stripe_event_id text not null check (length(stripe_event_id) <= 255),
  event_type text not null check (length(event_type) <= 255),
  -- For an unknown PaymentIntent, the request its metadata claims (unverified, may not exist).
  request_id uuid,
  amount integer,
  currency text check (length(currency) <= 16),
  expected_amount integer,
  expected_currency text,
  created_at timestamptz not null default now(),
  unique (stripe_payment_intent_id, kind)
);
create index if not exists payment_anomalies_created_at_idx on payment_anomalies (created_at desc);

alter table payment_anomalies enable row level security;
