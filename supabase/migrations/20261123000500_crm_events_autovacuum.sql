-- crm_events is a queue: rows are inserted and updated twice within seconds.
-- Default autovacuum waits for 10-20 % of the table to change, so after a
-- burst (a CRM outage) the planner keeps statistics that say "nothing is
-- pending" and picks scans that cost milliseconds per claim instead of
-- microseconds (measured by `npm run bench`). Analyse and vacuum it by count.
-- (No-op once 20261129000100_crm_destinations has replaced the table.)
do $m$ begin
if exists (select 1 from pg_class where relname = 'crm_deliveries') then return; end if;
alter table crm_events set (
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 1000,
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 2000
);
end $m$;
