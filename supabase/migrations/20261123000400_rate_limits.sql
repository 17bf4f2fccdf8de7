-- Per-client rate limiting for the public form functions, kept in Postgres so
-- that it holds across isolates. One fixed one-minute window per key; each hit
-- also deletes the key's older windows, so a key keeps at most one row.
create table if not exists rate_limits (
  key text not null,
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (key, window_start)
);

alter table rate_limits enable row level security;
