-- Rate limits that hold (issue #10). Keys are SHA-256 digests (32 bytes,
-- whatever the client sends), counted per one-minute bucket; a check weighs
-- the previous bucket by the part of it still inside the last minute (a
-- sliding-window estimate), so a client cannot double its rate across a
-- bucket boundary. Buckets older than the previous one are deleted as hits
-- come in, a few at a time.
create table if not exists rate_limit_buckets (
  key bytea not null check (length(key) = 32),
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (key, window_start)
);
create index if not exists rate_limit_buckets_window_start_idx on rate_limit_buckets (window_start);

alter table rate_limit_buckets enable row level security;

-- The fixed-window table it replaces (free-text keys, one row per invented key forever).
drop table if exists rate_limits;
