

select
    measure, patient_key, month_index,
    count(*) as n_rows
from "warehouse"."intermediate"."int_sdid_patient_months"
group by measure, patient_key, month_index
having count(*) > 1

