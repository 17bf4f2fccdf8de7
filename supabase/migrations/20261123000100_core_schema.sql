-- Core schema: what visitors send and what they pay.
-- Written to run on plain PostgreSQL 15+ and on Supabase, and to be re-runnable.
-- Every table has RLS enabled and no policy: anon/authenticated see nothing;
-- only the functions (connecting as the database owner) read and write.

create extension if not exists pgcrypto;

create table if not exists prices (
  type_raccordement text primary key
    check (type_raccordement in ('definitif', 'provisoire', 'modification', 'augmentation_puissance', 'photovoltaique')),
  amount integer not null check (amount > 0),            -- minor units (cents)
  currency text not null default 'eur' check (currency ~ '^[a-z]{3}$'),
  updated_at timestamptz not null default now()
);

insert into prices (type_raccordement, amount, currency) values
  ('definitif', 14900, 'eur'),
  ('provisoire', 12900, 'eur'),
  ('modification', 9900, 'eur'),
  ('augmentation_puissance', 9900, 'eur'),
  ('photovoltaique', 17900, 'eur')
on conflict (type_raccordement) do nothing;

create table if not exists leads (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email = lower(email) and length(email) <= 254),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  firstname text check (length(firstname) <= 100),
  lastname text check (length(lastname) <= 100),
  connection_type text
    check (connection_type in ('definitif', 'provisoire', 'modification', 'augmentation_puissance', 'photovoltaique')),
  postal_code text check (postal_code ~ '^[0-9]{5}$'),
  utm_source text check (length(utm_source) <= 200),
  utm_medium text check (length(utm_medium) <= 200),
  utm_campaign text check (length(utm_campaign) <= 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists customers (
  id uuid primary key default gen_random_uuid(),
  email text not null unique check (email = lower(email) and length(email) <= 254),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  full_name text check (length(full_name) <= 200),
  client_type text check (client_type in ('particulier', 'professionnel', 'collectivite')),
  company_name text check (length(company_name) <= 200),
  siren text check (siren ~ '^[0-9]{9}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customers_professionnel_has_siren check (client_type is distinct from 'professionnel' or siren is not null)
);

create table if not exists requests (
  id uuid primary key default gen_random_uuid(),
  customer_id uuid not null references customers (id),
  lead_id uuid references leads (id) on delete set null,
  type_raccordement text not null
    check (type_raccordement in ('definitif', 'provisoire', 'modification', 'augmentation_puissance', 'photovoltaique')),
  usage text check (length(usage) <= 200),
  address text check (length(address) <= 300),
  city text check (length(city) <= 100),
  zip_code text check (zip_code ~ '^[0-9]{5}$'),
  phase text check (phase in ('monophase', 'triphase')),
  -- A JSON number, stored as one: any value the form accepts (0 < x ≤ 250) fits exactly.
  power_kva double precision check (power_kva > 0 and power_kva <= 250),
  is_viabilise boolean,
  status text not null default 'submitted' check (status in ('submitted', 'in_progress', 'completed', 'canceled')),
  payment_status text not null default 'pending'
    check (payment_status in ('pending', 'paid', 'failed', 'canceled', 'refunded')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists requests_customer_id_idx on requests (customer_id);

create table if not exists callbacks (
  id uuid primary key default gen_random_uuid(),
  full_name text check (length(full_name) <= 200),
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  postal_code text check (postal_code ~ '^[0-9]{5}$'),
  source text check (length(source) <= 100),
  created_at timestamptz not null default now()
);

create table if not exists payments (
  id uuid primary key default gen_random_uuid(),
  request_id uuid not null references requests (id),
  stripe_payment_intent_id text not null unique,
  amount integer not null check (amount > 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  status text not null default 'pending' check (status in ('pending', 'paid', 'failed', 'canceled', 'refunded')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists payments_request_id_idx on payments (request_id, created_at desc);

-- Stripe delivers at least once and in any order: each event id is applied once.
create table if not exists stripe_events (
  id text primary key,
  type text not null,
  received_at timestamptz not null default now()
);

alter table prices enable row level security;
alter table leads enable row level security;
alter table customers enable row level security;
alter table requests enable row level security;
alter table callbacks enable row level security;
alter table payments enable row level security;
alter table stripe_events enable row level security;
