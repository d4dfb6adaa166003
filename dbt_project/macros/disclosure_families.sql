{#- Secondary suppression as data (docs/methods.md §6): per published table its mart, the key of a row,
    its counts of people or events, and the documented ways those counts add up ("families"). A
    family names the cells that are parts (`part`, a condition on the cell's columns: the row's keys,
    region_code, icb_code, sub_icb_code, row_id, count_name, n and the table's `carry` columns), the
    key of their group (`group`), the cells that are a group's total (`whole`) and the same key
    computed on a total (`total`); no `whole`
    when the parts add up to a total exactly (matched + unmatched = n_patients), so that nothing is
    left over. mart_disclosure_withheld applies secondary_suppression to every group; the published
    models look their cells up there. Add a relation between published counts here, nowhere else. -#}
{% macro disclosure_tables() -%}
    {%- set area = ['geography_level', 'geography_code'] -%}
    {%- set demand_keys = ['design', 'cohort_fy', 'population', 'subgroup', 'window_months', 'measure'] -%}
    {%- set demand_families = area_families(demand_keys) + [
        key_family('ltc_age_band', demand_keys, 'subgroup', "subgroup in ('ltc_under_80', 'ltc_80_plus')",
                   "subgroup = 'ltc'"),
        key_family('engaged', demand_keys, 'population', "population = 'engaged'", "population = 'referred'"),
        key_family('window', demand_keys, 'window_months', "window_months = 12 and count_name = 'n_patients'",
                   "window_months = 6 and count_name = 'n_patients'"),
        {'name': 'matched_unmatched', 'part': "count_name in ('n_matched', 'n_unmatched')", 'group': ['row_id']},
    ] -%}
    {%- for s in ['frequent_attenders', 'ltc', 'ltc_under_80', 'ltc_80_plus'] -%}
        {%- do demand_families.append(
            key_family('subgroup_' ~ s, demand_keys, 'subgroup', "subgroup = '" ~ s ~ "'", "subgroup = 'all'")
        ) -%}
    {%- endfor -%}

    {%- set dq_counts = ['rows_read', 'rows_loaded', 'rows_rejected', 'rejected_rows_listed'] -%}
    {%- for rule in dq_rules() %}{% do dq_counts.append('rows_rejected_' ~ rule) %}{% endfor -%}
    {%- do dq_counts.extend([
        'rows_rejected_other_rule', 'current_rows', 'unknown_practice_code_rows', 'unknown_pcn_code_rows',
        'linkable_rows', 'unlinked_rows'
    ]) -%}

    {{ return([
        {'table': 'mart_demand_reduction', 'ancestors': true, 'keys': area + demand_keys,
         'counts': ['n_patients', 'pre_total', 'post_total', 'n_matched', 'n_unmatched'],
         'families': demand_families},
        {'table': 'mart_cohort_attrition', 'ancestors': true, 'keys': area + ['cohort_fy', 'window_months'],
         'counts': ['referred', 'excluded_incomplete_follow_up', 'excluded_not_registered_throughout',
                    'excluded_died', 'eligible', 'engaged'],
         'families': area_families(['cohort_fy', 'window_months']) + [
            key_family('window', ['cohort_fy', 'window_months'], 'window_months',
                       "window_months = 12 and count_name in ('eligible', 'engaged')",
                       "window_months = 6 and count_name in ('eligible', 'engaged')"),
            {'name': 'excluded_eligible', 'part': "count_name not in ('referred', 'engaged')", 'group': ['row_id']},
            {'name': 'engaged_eligible', 'part': "count_name = 'engaged'", 'group': ['row_id'],
             'whole': "count_name = 'eligible'", 'total': ['row_id']},
         ]},
        {'table': 'mart_wellbeing_outcomes', 'ancestors': true, 'keys': area + ['cohort_fy', 'instrument', 'item'],
         'counts': ['n_paired', 'n_baseline_only', 'n_followup_only', 'n_improved'],
         'families': area_families(['cohort_fy', 'instrument', 'item']) + [
            {'name': 'improved_paired', 'part': "count_name = 'n_improved'", 'group': ['row_id'],
             'whole': "count_name = 'n_paired'", 'total': ['row_id']},
         ]},
        {'table': 'mart_equity', 'ancestors': true, 'keys': area + ['cohort_fy', 'dimension', 'value'],
         'counts': ['registered_population', 'referrals', 'people_engaged', 'outcome_n_patients', 'gp_pre_total',
                    'gp_post_total', 'swemwbs_n_paired'],
         'families': area_families(['cohort_fy', 'dimension', 'value']) + [
            {'name': 'dimension_values', 'part': "dimension <> 'all'",
             'group': area + ['cohort_fy', 'dimension', 'count_name']},
            {'name': 'engaged_referred', 'part': "count_name = 'people_engaged'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
            {'name': 'outcome_referred', 'part': "count_name = 'outcome_n_patients'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
         ]},
        {'table': 'mart_referral_pathway', 'ancestors': true, 'keys': area + ['month', 'category', 'value'],
         'counts': ['referrals', 'referrals_total'],
         'families': area_families(['month', 'category', 'value']) + [
            {'name': 'category_values',
             'part': "category in ('referral_source', 'outcome') and count_name = 'referrals'",
             'group': area + ['month', 'category']},
         ]},
        {'table': 'mart_rollout_pcn_month', 'ancestors': false, 'keys': ['pcn_code', 'month'],
         'carry': ['financial_year'],
         'counts': ['registered_population', 'referrals', 'people_referred', 'closed_referrals',
                    'closed_referrals_with_contacts', 'declined_referrals', 'referrals_with_first_contact'],
         'families': [
            {'name': 'months_of_year', 'part': "count_name in ('people_referred', 'referrals')",
             'group': ['pcn_code', 'financial_year', 'count_name']},
            {'name': 'people_referred', 'part': "count_name = 'people_referred'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
            {'name': 'declined', 'part': "count_name = 'declined_referrals'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
            {'name': 'closed', 'part': "count_name = 'closed_referrals'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
            {'name': 'first_contact', 'part': "count_name = 'referrals_with_first_contact'", 'group': ['row_id'],
             'whole': "count_name = 'referrals'", 'total': ['row_id']},
            {'name': 'closed_with_contacts', 'part': "count_name = 'closed_referrals_with_contacts'",
             'group': ['row_id'], 'whole': "count_name = 'closed_referrals'", 'total': ['row_id']},
         ]},
        {'table': 'mart_rollout_progress', 'ancestors': true, 'keys': area + ['financial_year'],
         'carry': ['lead(financial_year) over (partition by geography_level, geography_code order by financial_year)'
                   ' as next_financial_year'],
         'counts': ['registered_population', 'referrals', 'cumulative_referrals', 'all_referrals',
                    'cumulative_all_referrals'],
         'families': area_families(['financial_year']) + [
            {'name': 'cumulative', 'part': "count_name <> 'registered_population'",
             'group': area + [
                "case when count_name like 'cumulative%' then next_financial_year else financial_year end",
                "count_name in ('referrals', 'cumulative_referrals')"
             ]},
         ]},
        {'table': 'mart_data_quality', 'ancestors': false, 'keys': ['source', 'delivery_month'],
         'counts': dq_counts,
         'families': [
            {'name': 'loaded', 'part': "count_name = 'rows_loaded'", 'group': ['row_id'],
             'whole': "count_name = 'rows_read'", 'total': ['row_id']},
            {'name': 'rejected', 'part': "count_name = 'rows_rejected'", 'group': ['row_id'],
             'whole': "count_name = 'rows_read'", 'total': ['row_id']},
            {'name': 'rejected_by_rule', 'part': "count_name = 'rows_rejected_" ~ dq_rules()[0] ~ "'",
             'group': ['row_id'], 'whole': "count_name = 'rows_rejected'", 'total': ['row_id']},
         ]},
        {'table': 'mart_staggered_did', 'ancestors': true,
         'keys': area + ['cohort_fy', 'population', 'measure', 'estimate', 'event_month'],
         'counts': ['n_treated', 'n_unmatched', 'n_control_patients'],
         'families': area_families(['cohort_fy', 'population', 'measure', 'estimate', 'event_month']) + [
            key_family('engaged', ['cohort_fy', 'population', 'measure', 'estimate', 'event_month'], 'population',
                       "population = 'engaged'", "population = 'referred'"),
         ]},
    ]) }}
{%- endmacro %}


{#- The data-quality rules with a rows_rejected_<rule> count, in the ledger's order. -#}
{% macro dq_rules() -%}
    {{ return([
        'required', 'field_count', 'date_format', 'date_range', 'first_of_month', 'int_format',
        'decimal_format', 'range', 'pattern', 'code_set', 'nhs_number_format', 'nhs_number_check_digit',
        'nhs_number_all_one_digit', 'pseudo_nhs_number_format', 'order', 'code_set_for', 'range_for'
    ]) }}
{%- endmacro %}


{#- The published table's entry of disclosure_tables(). -#}
{% macro disclosure_table(name) -%}
    {%- for t in disclosure_tables() if t.table == name %}{{ return(t) }}{% endfor -%}
    {{ exceptions.raise_compiler_error('no disclosure_tables() entry for ' ~ name) }}
{%- endmacro %}


{#- The families every table by area has: an area and the areas within it, and (with a cohort_fy key)
    `all` and the cohort years. `keys`: the row's keys other than geography_level and geography_code. -#}
{% macro area_families(keys) -%}
    {%- set area = ['geography_level', 'geography_code'] -%}
    {%- set parent = [geography_parent_level('geography_level'), geography_parent_code('geography_level')] -%}
    {%- set families = [
        {'name': 'area', 'part': "geography_level <> 'england'", 'group': parent + keys + ['count_name'],
         'whole': 'true', 'total': area + keys + ['count_name']}
    ] -%}
    {%- if 'cohort_fy' in keys -%}
        {%- do families.append(
            key_family('cohort_year', keys, 'cohort_fy', "cohort_fy <> 'all'", "cohort_fy = 'all'")
        ) -%}
    {%- endif -%}
    {{ return(families) }}
{%- endmacro %}


{#- A family of rows that differ in one key: `part` rows are the parts of the `whole` row with the
    same other keys, count by count. `keys`: the row's keys other than the area's. -#}
{% macro key_family(name, keys, key, part, whole) -%}
    {%- set same = ['geography_level', 'geography_code'] + (keys | reject('equalto', key) | list) + ['count_name'] -%}
    {{ return({'name': name, 'part': part, 'group': same, 'whole': whole, 'total': same}) }}
{%- endmacro %}
