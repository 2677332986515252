{{ config(materialized='table') }}

{#-
    CH_NEWBORN_VISIT per window (spec §2 Children): one row per live birth x reporting period
    whose birth date falls in the window [window_start, period_end]. Denominator = rows;
    numerator = rows with has_visit_within_28d (a visit within 28 days of birth, even when the
    visit falls after the window end: such windows stay provisional, spec §1). Live births
    without an attributable facility (neither the newborn nor the mother) are left out.
-#}

with live_births as (

    select * from {{ ref('int_child__live_births') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

final as (

    select
        lb.live_birth_key,
        r.period_key,
        lb.facility_code,
        lb.birth_date,
        lb.newborn_key,
        lb.first_visit_date,
        lb.has_visit_within_28d
    from live_births as lb
    inner join periods as r
        on lb.birth_date between r.window_start and r.period_end
    where lb.facility_code is not null

)

select * from final
