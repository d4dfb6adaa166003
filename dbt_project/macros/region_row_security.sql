{#- Row-level security of a published table: each BI login reads only the rows of its region
    (src/spw/sql/roles.sql creates the logins). Returns the statements, for a post-hook; the grants
    are here too (not only the schema's default privileges) and, like the policies, stay with the
    table through `alter table ... rename` and `set schema`, so a table built under another name or
    in another schema and swapped in keeps them. -#}
{% macro region_row_security(relation) -%}
    {{ return(adapter.dispatch('region_row_security', 'spw')(relation)) }}
{%- endmacro %}

{% macro default__region_row_security(relation) -%}
{%- endmacro %}

{% macro postgres__region_row_security(relation) -%}
    {%- set region_logins = [] -%}
    {%- for region in var('nhs_region_codes') -%}
        {%- do region_logins.append('spw_bi_region_' ~ region | lower) -%}
    {%- endfor %}
    grant select on {{ relation }} to spw_bi_reader, spw_analyst, spw_bi_no_rows, {{ region_logins | join(', ') }};
    alter table {{ relation }} enable row level security;
    drop policy if exists national_readers on {{ relation }};
    create policy national_readers on {{ relation }} for select to spw_bi_reader, spw_analyst using (true);
    {%- for region in var('nhs_region_codes') %}
    drop policy if exists region_{{ region | lower }} on {{ relation }};
    create policy region_{{ region | lower }} on {{ relation }} for select to spw_bi_region_{{ region | lower }}
        using (region_code in ('{{ region }}', 'ENG'));
    {%- endfor %}
{%- endmacro %}
