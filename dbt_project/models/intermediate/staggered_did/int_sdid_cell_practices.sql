-- One row per treated cell (cohort g x stratum) and practice whose patients can be its controls: the
-- practices of the cell's sub-ICB on the first day of g (every practice in package-compatible mode),
-- with the practice's geography then. Controls' sums are kept per practice: the variance clusters.
with cells as (
    select
        g,
        g_date,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        count(*) as n_treated,
        sum(case when is_engaged then 1 else 0 end) as n_engaged
    from {{ ref('int_sdid_treated') }}
    group by g, g_date, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile
),

practices_at_g as (
    select
        c.g,
        p.practice_code,
        p.pcn_code,
        p.sub_icb_code,
        p.icb_code,
        p.region_code,
        row_number() over (partition by c.g, p.practice_code order by p.valid_from desc) as geography_seq
    from (select distinct
        g,
        g_date
    from cells) as c
    inner join {{ ref('int_practice_geography') }} as p
        on c.g_date >= p.valid_from and c.g_date < p.valid_to
)

select
    c.g,
    c.stratum_sub_icb,
    c.stratum_sex,
    c.stratum_age_band,
    c.stratum_imd_quintile,
    c.n_treated,
    c.n_engaged,
    p.practice_code,
    p.pcn_code,
    p.sub_icb_code,
    p.icb_code,
    p.region_code
from cells as c
inner join practices_at_g as p
    on
        c.g = p.g
        and p.geography_seq = 1
        and {{ sdid_in_cell_area('c', 'p') }}
