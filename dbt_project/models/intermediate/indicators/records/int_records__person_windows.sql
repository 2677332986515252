{#-
    Health records and family doctors (spec §2), one row per merged person x reporting window:
    the spans of int_records__person_window_spans given back to each window they cover (the
    windows of int_reporting_windows whose period_end lies between the span's first and last
    window end). A view: the spans hold a thirteenth of these rows, and
    int_indicator__records counts them as they are read.
-#}

with windows as (

    select * from {{ ref('int_reporting_windows') }}

),

spans as (

    select * from {{ ref('int_records__person_window_spans') }}

),

final as (

    select
        s.person_sk,
        w.period_key,
        s.facility_code,
        s.is_active_ehr,
        s.has_dynamic_record_12m,
        s.has_active_contract,
        s.is_aged_65_plus,
        s.is_aged_0_6,
        s.is_pregnant,
        s.is_in_chronic_registry,
        s.is_key_population
    from spans as s
    inner join windows as w
        on w.period_end between s.first_period_end and s.last_period_end

)

select * from final
