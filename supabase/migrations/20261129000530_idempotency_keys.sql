-- Idempotency-Key on the form functions (issue #10, CONTRACT §2): the first
-- answer for a key, kept 24 hours. Written in the same statement as the record
-- it answers for, so a key either has its record and answer or neither.
create table if not exists idempotency_keys (
  function text not null check (length(function) <= 64),
  key_hash bytea not null check (length(key_hash) = 32),
  request_hash bytea not null check (length(request_hash) = 32),
  response jsonb not null,
  created_at timestamptz not null default now(),
  primary key (function, key_hash)
);
create index if not exists idempotency_keys_created_at_idx on idempotency_keys (created_at);

alter table idempotency_keys enable row level security;
