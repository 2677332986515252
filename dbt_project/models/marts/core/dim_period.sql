{#-
    Reporting periods for the marts: the calendar built in intermediate (int_periods), under
    the enforced contract Superset and the exports read.
-#}

with periods as (

    select * from {{ ref('int_periods') }}

),

final as (

    select
        period_key,
        period_type,
        period_start,
        period_end,
        window_start,
        months_elapsed,
        year,
        assessment_year,
        quarter,
        month,
        days_in_period,
        period_label_zh,
        provisional_until
    from periods

)

select * from final
