{#-
    Health records and family doctors (spec §2), one row per merged person x reporting window:
    the spans of int_records__person_window_spans given back to each window they cover
    (windows_of_spans). A view for looking a person's windows up: the spans hold a thirteenth
    of these rows, and int_indicator__records counts the spans without expanding each one.
-#}

with windows as (

    select * from {{ ref('int_reporting_windows') }}

),

spans as (

    select * from {{ ref('int_records__person_window_spans') }}

),

person_windows as (

    {{ windows_of_spans('spans', 'windows') }}

),

final as (

    select
        person_sk,
        period_key,
        facility_code,
        is_active_ehr,
        has_dynamic_record_12m,
        has_active_contract,
        is_aged_65_plus,
        is_aged_0_6,
        is_pregnant,
        is_in_chronic_registry,
        is_key_population
    from person_windows

)

select * from final
