-- Supabase grants the `anon` and `authenticated` roles (PostgREST's) every
-- privilege on the public schema's tables by default; RLS alone then stands
-- between them and the data. Only the functions (the database owner) use these
-- tables: take the privileges away, now and for tables created later by the
-- role that runs migrations. On plain PostgreSQL without these roles: nothing.
do $migration$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = r) then
      execute format('revoke all on all tables in schema public from %I', r);
      execute format('revoke all on all sequences in schema public from %I', r);
      execute format('revoke all on all functions in schema public from %I', r);
      execute format('alter default privileges in schema public revoke all on tables from %I', r);
      execute format('alter default privileges in schema public revoke all on sequences from %I', r);
      execute format('alter default privileges in schema public revoke all on functions from %I', r);
    end if;
  end loop;
end
$migration$;
