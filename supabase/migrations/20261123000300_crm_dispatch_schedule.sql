-- Runs the crm-dispatch sweeper every minute on Supabase, with pg_cron + pg_net.
-- The function URL and the service-role key are read from Vault at each run, so
-- no secret is stored in this migration or in cron.job:
--   select vault.create_secret('https://<project-ref>.supabase.co/functions/v1/crm-dispatch', 'crm_dispatch_url');
--   select vault.create_secret('<service-role key>', 'crm_dispatch_service_role_key');
-- On plain PostgreSQL (no pg_cron / pg_net / Vault) this migration does nothing:
-- the local stack runs the sweeper itself every CRM_SWEEP_INTERVAL_MS.
do $migration$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and exists (select 1 from pg_available_extensions where name = 'pg_net')
     and exists (select 1 from pg_namespace where nspname = 'vault') then
    create extension if not exists pg_cron;
    create extension if not exists pg_net;
    -- cron.schedule replaces a job of the same name: re-running is harmless.
    perform cron.schedule('crm-dispatch', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'crm_dispatch_url'),
        headers := jsonb_build_object(
          'content-type', 'application/json',
          'authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                         where name = 'crm_dispatch_service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000)
      where exists (select 1 from vault.decrypted_secrets where name = 'crm_dispatch_url');
    $job$);
  else
    raise notice 'pg_cron, pg_net or Vault not available: crm-dispatch is not scheduled here';
  end if;
end
$migration$;
