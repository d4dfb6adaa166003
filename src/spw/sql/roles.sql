-- Warehouse roles and schemas, applied idempotently by `spw up` (and by the docker init job).
-- Run as the bootstrap admin against the warehouse database. Passwords are set separately from
-- secrets, never here. No role below is SUPERUSER or BYPASSRLS.
--
-- BI logins (src/spw/bi_logins.py): Superset reads the warehouse as spw_bi_reader (national: every
-- region), spw_bi_region_<code> (one per NHS England region: its region's rows and England's) or
-- spw_bi_no_rows (none), chosen per user. Row-level security policies on every published table
-- (dbt macro region_row_security) decide the rows. None of these logins is a member of any role, so
-- `set role` / `set_config('role', ...)` cannot move a session to another region.

do $$
declare
    r text;
begin
    foreach r in array array[
        'spw_loader', 'spw_transformer', 'spw_bi_reader', 'spw_analyst', 'spw_airflow', 'spw_superset',
        'spw_bi_region_y56', 'spw_bi_region_y58', 'spw_bi_region_y59', 'spw_bi_region_y60',
        'spw_bi_region_y61', 'spw_bi_region_y62', 'spw_bi_region_y63', 'spw_bi_no_rows'
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

-- Analysts read marts and published; the BI logins read published and nothing else (which of its
-- rows: the policies of each table).
grant usage on schema marts, reference to spw_analyst;
grant usage on schema published to spw_analyst;
grant select on all tables in schema marts to spw_analyst;
grant select on all tables in schema reference to spw_analyst;
grant select on all tables in schema published to spw_analyst;
alter default privileges for role spw_transformer in schema marts grant select on tables to spw_analyst;
alter default privileges for role spw_transformer in schema reference grant select on tables to spw_analyst;
alter default privileges for role spw_transformer in schema published grant select on tables to spw_analyst;

do $$
declare
    r text;
    member_of text;
    t record;
begin
    foreach r in array array[
        'spw_bi_reader', 'spw_bi_region_y56', 'spw_bi_region_y58', 'spw_bi_region_y59', 'spw_bi_region_y60',
        'spw_bi_region_y61', 'spw_bi_region_y62', 'spw_bi_region_y63', 'spw_bi_no_rows'
    ] loop
        -- A membership would let the login `set role` to another and read its rows.
        for member_of in
            select g.rolname from pg_auth_members as m
            inner join pg_roles as g on m.roleid = g.oid
            inner join pg_roles as u on m.member = u.oid
            where u.rolname = r
        loop
            execute format('revoke %I from %I', member_of, r);
        end loop;
        execute format('grant connect on database warehouse to %I', r);
        execute format('grant usage on schema published to %I', r);
        -- A table that predates its policies (a deployment upgraded before dbt rebuilt it) is read by
        -- the national login only; the others get it when dbt rebuilds it with row-level security (a
        -- new table takes the default privileges below, and its policies, in the same transaction).
        for t in
            select c.oid::regclass as rel, c.relrowsecurity as secured from pg_class as c
            where c.relnamespace = 'published'::regnamespace and c.relkind in ('r', 'p')
        loop
            if t.secured or r = 'spw_bi_reader' then
                execute format('grant select on %s to %I', t.rel, r);
            else
                execute format('revoke select on %s from %I', t.rel, r);
            end if;
        end loop;
        execute format(
            'alter default privileges for role spw_transformer in schema published grant select on tables to %I', r
        );
        -- A dashboard query is small: a runaway ad-hoc expression stops after 30 s, not at the proxy.
        execute format('alter role %I set statement_timeout = %L', r, '30s');
    end loop;
end
$$;

-- Functions that run SQL handed to them as a string (or read a whole table, schema or database by
-- name) let an expression Superset accepts as a column run any query: nobody here needs them, so
-- nobody may call them. Large-object functions and dblink (when installed) likewise.
do $$
declare
    f regprocedure;
begin
    for f in
        select p.oid::regprocedure from pg_proc as p
        inner join pg_namespace as n on p.pronamespace = n.oid
        where (
            n.nspname = 'pg_catalog' and (
                p.proname in (
                    'query_to_xml', 'query_to_xml_and_xmlschema', 'query_to_xmlschema',
                    'cursor_to_xml', 'cursor_to_xmlschema',
                    'table_to_xml', 'table_to_xml_and_xmlschema', 'table_to_xmlschema',
                    'schema_to_xml', 'schema_to_xml_and_xmlschema', 'schema_to_xmlschema',
                    'database_to_xml', 'database_to_xml_and_xmlschema', 'database_to_xmlschema',
                    'ts_stat', 'ts_rewrite', 'loread', 'lowrite'
                )
                or p.proname like 'lo\_%'
            )
        )
        or p.proname like 'dblink%'
    loop
        execute format(
            'revoke execute on function %s from public, spw_bi_reader, spw_bi_region_y56, spw_bi_region_y58, '
            'spw_bi_region_y59, spw_bi_region_y60, spw_bi_region_y61, spw_bi_region_y62, spw_bi_region_y63, '
            'spw_bi_no_rows, spw_analyst',
            f
        );
    end loop;
end
$$;
