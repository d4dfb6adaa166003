{#- Published tables by geography level: icb_code, sub_icb_code and pcn_code hold the row's own code at
    its own level and are NULL below it (methods §1; int_geography_hierarchy). Fails with every row
    that breaks this. Parents above the row's level are not required: an area unknown to the practice
    reference has none. -#}
{% test geography_ancestors_consistent(model) %}

select *
from {{ model }}
where
    case geography_level
        when 'england' then coalesce(icb_code, sub_icb_code, pcn_code) is not null
        when 'region' then coalesce(icb_code, sub_icb_code, pcn_code) is not null
        when 'icb' then icb_code is distinct from geography_code or coalesce(sub_icb_code, pcn_code) is not null
        when 'sub_icb' then sub_icb_code is distinct from geography_code or pcn_code is not null
        when 'pcn' then pcn_code is distinct from geography_code
        else true
    end

{% endtest %}
