{#- Expressions of the staggered difference-in-differences (methods §4b/§4c). Months are integers,
    year * 12 + month - 1, so month arithmetic is integer arithmetic on every engine. -#}

{% macro sdid_month(date_expr) -%}
    (cast(extract(year from {{ date_expr }}) as integer) * 12 + cast(extract(month from {{ date_expr }}) as integer) - 1)
{%- endmacro %}

{#- Calendar year of a month number. Divided as a double, not a decimal (12.0 is numeric on Postgres,
    slow in joins over millions of rows): an integer quotient is exact, any other is 1/12 from one. -#}
{% macro sdid_year(month_expr) -%}
    cast(floor(cast({{ month_expr }} as {{ type_double() }}) / 12) as integer)
{%- endmacro %}

{#- 10-year age band at the cohort month (80+ one band), age = calendar year - year of birth. -#}
{% macro sdid_age_band(month_expr, year_of_birth) -%}
    least(cast(floor(cast({{ sdid_year(month_expr) }} - {{ year_of_birth }} as {{ type_double() }}) / 10) as integer), 8)
{%- endmacro %}

{#- IMD quintile ceil(decile / 2); 0 = unknown. -#}
{% macro sdid_imd_quintile(imd_decile) -%}
    coalesce(cast(floor(({{ imd_decile }} + 1) / 2.0) as integer), 0)
{%- endmacro %}

{% macro sdid_mode() -%}
    {%- set mode = var('sdid_mode') -%}
    {%- if mode not in ('strata', 'package_compatible') and exceptions is defined -%}
        {{ exceptions.raise_compiler_error("var sdid_mode must be 'strata' or 'package_compatible', not " ~ mode) }}
    {%- endif -%}
    {{ return(mode) }}
{%- endmacro %}

{#- Months before the cohort month a panel patient must be registered: anticipation + base block. -#}
{% macro sdid_lead() -%}
    {{ return(var('sdid_anticipation_months') | int + var('sdid_base_months') | int) }}
{%- endmacro %}

{#- Event months e = -lead .. 12 with the column suffix used for wide rows (m15 = -15, p03 = +3). -#}
{% macro sdid_events() -%}
    {%- set out = [] -%}
    {%- for e in range(-sdid_lead(), 13) -%}
        {%- do out.append({'e': e, 'col': ('m' if e < 0 else 'p') ~ '%02d' % (e | abs)}) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{#- Base block as event months [first, last]: g-15 .. g-4 (strata); g-1-anticipation (package mode). -#}
{% macro sdid_base_range() -%}
    {%- set a = var('sdid_anticipation_months') | int -%}
    {%- if sdid_mode() == 'package_compatible' -%}
        {{ return([-1 - a, -1 - a]) }}
    {%- endif -%}
    {{ return([-sdid_lead(), -1 - a]) }}
{%- endmacro %}

{#- True when a patient first referred in `ref_month` (NULL = never) is a control of cohort `g` in month
    g + e. Strata: G > max(m, g). Package mode: csdid's not-yet-treated rule with a universal base,
    G > max(m, g - 1 - a) + a and G != g. -#}
{% macro sdid_is_control(ref_month, g, e) -%}
    {%- set a = var('sdid_anticipation_months') | int -%}
    {%- if sdid_mode() == 'package_compatible' -%}
        ({{ ref_month }} is null or ({{ ref_month }} > {{ g }} + {{ [e, -1 - a] | max + a }} and {{ ref_month }} != {{ g }}))
    {%- else -%}
        ({{ ref_month }} is null or {{ ref_month }} > {{ g }} + {{ [e, 0] | max }})
    {%- endif -%}
{%- endmacro %}

{#- The stratum columns of a patient at cohort month g (a single stratum in package mode). -#}
{% macro sdid_stratum_columns(sub_icb, sex, month_expr, year_of_birth, imd_quintile) -%}
    {%- if sdid_mode() == 'package_compatible' -%}
    cast('all' as {{ dbt.type_string() }}) as stratum_sub_icb,
    cast('all' as {{ dbt.type_string() }}) as stratum_sex,
    0 as stratum_age_band,
    0 as stratum_imd_quintile
    {%- else -%}
    {{ sub_icb }} as stratum_sub_icb,
    {{ sex }} as stratum_sex,
    {{ sdid_age_band(month_expr, year_of_birth) }} as stratum_age_band,
    {{ imd_quintile }} as stratum_imd_quintile
    {%- endif -%}
{%- endmacro %}

{#- 0.975 quantile of t with `df` degrees of freedom for df > 300 (Cornish-Fisher, 4 terms; the seed
    ref_t_quantiles has df 1 .. 300). -#}
{% macro sdid_t_975_expansion(df) -%}
    {%- set z = 1.959963984540054 -%}
    {%- set g1 = (z ** 3 + z) / 4 -%}
    {%- set g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96 -%}
    {%- set g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384 -%}
    {%- set g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160 -%}
    ({{ z }} + {{ g1 }} / {{ df }} + {{ g2 }} / power({{ df }}, 2) + {{ g3 }} / power({{ df }}, 3)
        + {{ g4 }} / power({{ df }}, 4))
{%- endmacro %}

{#- Bootstrap multiplier of a practice in draw b: +1 when md5(practice_code || b) starts with 0-7. -#}
{% macro sdid_multiplier(practice_code, draw) -%}
    case
        when substr(md5({{ dbt.concat([practice_code, 'cast(' ~ draw ~ ' as ' ~ dbt.type_string() ~ ')']) }}), 1, 1) < '8'
            then 1.0
        else -1.0
    end
{%- endmacro %}

{#- Largest |t| of a bootstrap draw over the given event months: |t_e| * sqrt(G/(G-1)) / se_e, skipping
    months with no variance. `draw` and `se` are table aliases; columns <prefix><col>. -#}
{% macro sdid_sup_t(draw, prefix, se, se_prefix, events) -%}
    greatest(
        {%- for ev in events %}
        case
            when {{ se }}.{{ se_prefix }}{{ ev.col }} > 0
                then abs({{ draw }}.{{ prefix }}{{ ev.col }}) * sqrt({{ draw }}.cluster_factor) / {{ se }}.{{ se_prefix }}{{ ev.col }}
        end{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Last event month in which a patient first referred in `ref_month` (NULL = never, else > g) is a
    control of cohort `g`: G > max(m, g) holds up to e = G - g - 1; csdid's rule up to G - g - 1 - a. -#}
{% macro sdid_last_control_month(ref_month, g) -%}
    {%- set offset = var('sdid_anticipation_months') | int if sdid_mode() == 'package_compatible' else 0 -%}
    case when {{ ref_month }} is null then 12 else least(12, {{ ref_month }} - {{ g }} - {{ 1 + offset }}) end
{%- endmacro %}

{#- Methods §9 v2 for one count of people at any level: 0 stays 0, 1 .. suppress_below - 1 NULL,
    otherwise rounded to the nearest round_to. -#}
{% macro sdid_published_count(col) -%}
    case
        when {{ col }} = 0 then 0
        when {{ col }} < {{ var('suppress_below') }} then null
        else cast(round({{ col }} / {{ var('round_to') }}.0) * {{ var('round_to') }} as {{ dbt.type_bigint() }})
    end
{%- endmacro %}

{#- Join condition: a patient's stratum attributes (`patient` alias: sex, imd_quintile, age band column
    `age_band_col`) match a cell's (`cell` alias); always true in package-compatible mode. -#}
{% macro sdid_same_stratum(cell, patient, age_band_col) -%}
    {%- if sdid_mode() == 'package_compatible' -%}
        1 = 1
    {%- else -%}
        ({{ cell }}.stratum_sex = {{ patient }}.sex and {{ cell }}.stratum_imd_quintile = {{ patient }}.imd_quintile
        and {{ cell }}.stratum_age_band = {{ patient }}.{{ age_band_col }})
    {%- endif -%}
{%- endmacro %}

{#- Join condition: two relations hold the same cell (cohort and stratum). -#}
{% macro sdid_same_cell(a, b) -%}
    ({{ a }}.g = {{ b }}.g and {{ a }}.stratum_sub_icb = {{ b }}.stratum_sub_icb and {{ a }}.stratum_sex = {{ b }}.stratum_sex
    and {{ a }}.stratum_age_band = {{ b }}.stratum_age_band and {{ a }}.stratum_imd_quintile = {{ b }}.stratum_imd_quintile)
{%- endmacro %}

{#- Join condition: two relations hold the same estimate group (measure, area and cohort year). -#}
{% macro sdid_same_group(a, b) -%}
    ({{ a }}.measure = {{ b }}.measure and {{ a }}.geography_level = {{ b }}.geography_level
    and {{ a }}.geography_code = {{ b }}.geography_code and {{ a }}.cohort_fy = {{ b }}.cohort_fy)
{%- endmacro %}

{#- Join condition: the practice's sub-ICB is the cell's (always true in package-compatible mode). -#}
{% macro sdid_in_cell_area(cell, practice) -%}
    {%- if sdid_mode() == 'package_compatible' -%}
        1 = 1
    {%- else -%}
        {{ cell }}.stratum_sub_icb = {{ practice }}.sub_icb_code
    {%- endif -%}
{%- endmacro %}
