-- The sweeper on Supabase, every 5 seconds instead of every minute (pg_cron ≥ 1.5
-- takes '[1-59] seconds' schedules), calling crm-dispatch only when a delivery
-- is due: the job runs crm_dispatch_tick() (20261129000400), a cheap indexed
-- check that calls the function through pg_net only then, and records each
-- call in crm_sweeps (`npm run crm -- status` shows them with pg_net's answer).
-- Retention runs as its own job, once a minute: crm_retention() does nothing
-- until its last complete pass is an hour old, then one bounded step per run.
-- URL and key come from Vault at each tick, as in 20261123000300 (whose
-- every-minute job of the same name this replaces). On plain PostgreSQL this
-- migration does nothing: the local stack calls crm-dispatch every
-- CRM_SWEEP_INTERVAL_MS, and crm-dispatch runs retention when it is due.
do $migration$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and exists (select 1 from pg_available_extensions where name = 'pg_net')
     and exists (select 1 from pg_namespace where nspname = 'vault') then
    create extension if not exists pg_cron;
    create extension if not exists pg_net;
    -- cron.schedule replaces a job of the same name: re-running is harmless.
    perform cron.schedule('crm-dispatch', '5 seconds', 'select public.crm_dispatch_tick()');
    perform cron.schedule('crm-retention', '* * * * *', 'select public.crm_retention()');
  else
    raise notice 'pg_cron, pg_net or Vault not available: crm-dispatch and retention are not scheduled here';
  end if;
end
$migration$;
