-- Warehouse roles and schemas, applied idempotently by `spw up` (and by the docker init job).
-- Run as the bootstrap admin against the warehouse database. Passwords are set separately from
-- secrets, never here. No role below is SUPERUSER or BYPASSRLS.

do $$
declare
    r text;
begin
    foreach r in array array[
        'spw_loader', 'spw_transformer', 'spw_bi_reader', 'spw_analyst', 'spw_airflow', 'spw_superset'
    ] loop
        if not exists (select 1 from pg_roles where rolname = r) then
            execute format('create role %I login', r);
        end if;
        execute format(
            'alter role %I login nosuperuser nobypassrls nocreatedb nocreaterole noreplication', r
        );
    end loop;
end
$$;

revoke create on schema public from public;
revoke all on database warehouse from public;
grant connect on database warehouse to spw_loader, spw_transformer, spw_bi_reader, spw_analyst;
-- The loader stages each delivery in a temporary table inside the file's transaction.
grant temporary on database warehouse to spw_loader;
-- dbt may create its own schemas if a new layer is added.
grant create on database warehouse to spw_transformer;
-- dbt unit tests (and incremental models) stage their inputs in temporary tables.
grant temporary on database warehouse to spw_transformer;
-- dbt's statements are large one-off analytic queries: JIT compiling them costs seconds per model
-- and gains nothing measurable; sorts and hashes of patient-level tables need more than the default
-- memory to stay off disk. Set on the role, so every dbt session of any deployment gets them.
alter role spw_transformer set jit = off;
alter role spw_transformer set work_mem = '128MB';

-- Landing side: written only by the loader.
create schema if not exists raw authorization spw_loader;
create schema if not exists audit authorization spw_loader;
alter schema raw owner to spw_loader;
alter schema audit owner to spw_loader;

-- dbt side: owned by the transformer.
create schema if not exists reference authorization spw_transformer;
create schema if not exists staging authorization spw_transformer;
create schema if not exists intermediate authorization spw_transformer;
create schema if not exists marts authorization spw_transformer;
create schema if not exists published authorization spw_transformer;

-- The transformer reads what the loader wrote, now and in future tables.
grant usage on schema raw, audit to spw_transformer, spw_analyst;
grant select on all tables in schema raw to spw_transformer;
grant select on all tables in schema audit to spw_transformer, spw_analyst;
alter default privileges for role spw_loader in schema raw grant select on tables to spw_transformer;
alter default privileges for role spw_loader in schema audit grant select on tables to spw_transformer, spw_analyst;
-- The data-quality mart may add results to audit (outputs: "audit ... data-quality results").
grant create on schema audit to spw_transformer;

-- Analysts read marts and published; the BI reader reads published and nothing else.
grant usage on schema marts, reference to spw_analyst;
grant usage on schema published to spw_analyst, spw_bi_reader;
grant select on all tables in schema marts to spw_analyst;
grant select on all tables in schema reference to spw_analyst;
grant select on all tables in schema published to spw_analyst, spw_bi_reader;
alter default privileges for role spw_transformer in schema marts grant select on tables to spw_analyst;
alter default privileges for role spw_transformer in schema reference grant select on tables to spw_analyst;
alter default privileges for role spw_transformer in schema published
grant select on tables to spw_analyst, spw_bi_reader;
