-- Short locks shared by every deliverer of a destination (DestinationContext.exclusive):
-- "find or create the person with this email" must not run twice at once for two
-- records of one person. Keyed by a SHA-256 digest (a key may be an email), held
-- for one delivery at most, taken over once expired.
create table if not exists crm_locks (
  destination text not null,
  key text not null,
  token uuid not null,
  expires_at timestamptz not null,
  primary key (destination, key)
);
alter table crm_locks enable row level security;
-- (anon/authenticated: no privileges, by 20261129000540_revoke_client_roles's default privileges.)
