{{ config(materialized='table') }}

{#-
    The maternal cohort per reporting window (spec §2 Maternal): one row per delivery x
    period_key for deliveries with >= 1 live birth whose delivery date is in the window
    [window_start, period_end], attributed to the mother's facility (mothers without an
    attributable facility are excluded, spec §6). The flags come from int_maternal__deliveries
    and may use events after the window end (a postpartum visit due after a December delivery):
    such windows are flagged provisional in int_reporting_periods.
-#}

with deliveries as (

    select * from {{ ref('int_maternal__deliveries') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

final as (

    select
        d.delivery_record_id,
        pr.period_key,
        pr.period_type,
        d.facility_code,
        d.mother_person_key,
        d.delivery_date,
        d.live_births,
        d.is_early_registration,
        d.has_postpartum_visit_28d,
        d.is_systematically_managed
    from deliveries as d
    inner join periods as pr
        on d.delivery_date between pr.window_start and pr.period_end
    where
        d.is_live_birth_delivery
        and not d.is_excluded_no_facility

)

select * from final
