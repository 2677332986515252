{{ config(materialized='table') }}

{#-
    Children indicators (spec §2 Children), one row per indicator_code x facility_code x
    period_key with numerator and denominator (rows where both are 0 are omitted):
    - CH_NEWBORN_VISIT: live births in the window visited within 28 days / live births in the
      window (int_child__newborn_visit_windows);
    - CH_HEALTH_MGMT: children aged 0-6 with >= 1 health check in the window
      (int_child__health_check_windows) / official population aged 0-6 of the facility's
      catchment township for the assessment year (int_population);
    - CH_TCM: eligible children aged 6-36 months with TCM guidance / eligible children
      (int_child__tcm_windows);
    - CH_VACCINATION: sum over vaccine doses of int_indicator__vaccination_doses.
-#}
{%- set child_max_age_years = 6 -%}  {#- spec §1: "aged 0-6" = single years of age 0..6 #}

with newborn_visit_windows as (

    select * from {{ ref('int_child__newborn_visit_windows') }}

),

health_check_windows as (

    select * from {{ ref('int_child__health_check_windows') }}

),

tcm_windows as (

    select * from {{ ref('int_child__tcm_windows') }}

),

vaccination_doses as (

    select * from {{ ref('int_indicator__vaccination_doses') }}

),

population as (

    select * from {{ ref('int_population') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

newborn_visit as (

    select
        'CH_NEWBORN_VISIT' as indicator_code,
        facility_code,
        period_key,
        (count(*) filter (where has_visit_within_28d))::numeric as numerator,
        count(*)::numeric as denominator
    from newborn_visit_windows
    group by facility_code, period_key

),

health_checked as (

    select
        facility_code,
        period_key,
        count(*)::numeric as children_checked
    from health_check_windows
    group by facility_code, period_key

),

population_0_6 as (

    select
        pop.facility_code,
        r.period_key,
        sum(pop.population)::numeric as population
    from periods as r
    inner join population as pop
        on r.assessment_year = pop.population_year
    where
        pop.age between 0 and {{ child_max_age_years }}
        and pop.facility_code is not null
    group by pop.facility_code, r.period_key

),

health_mgmt as (

    select
        'CH_HEALTH_MGMT' as indicator_code,
        coalesce(hc.facility_code, pop.facility_code) as facility_code,
        coalesce(hc.period_key, pop.period_key) as period_key,
        coalesce(hc.children_checked, 0) as numerator,
        coalesce(pop.population, 0) as denominator
    from health_checked as hc
    full outer join population_0_6 as pop
        on
            hc.facility_code = pop.facility_code
            and hc.period_key = pop.period_key

),

tcm as (

    select
        'CH_TCM' as indicator_code,
        facility_code,
        period_key,
        (count(*) filter (where has_tcm_guidance))::numeric as numerator,
        count(*)::numeric as denominator
    from tcm_windows
    group by facility_code, period_key

),

vaccination as (

    select
        'CH_VACCINATION' as indicator_code,
        facility_code,
        period_key,
        sum(children_vaccinated) as numerator,
        sum(children_due) as denominator
    from vaccination_doses
    group by facility_code, period_key

),

unioned as (

    select * from newborn_visit
    union all
    select * from health_mgmt
    union all
    select * from tcm
    union all
    select * from vaccination

),

final as (

    select
        indicator_code::text as indicator_code,
        facility_code::text as facility_code,
        period_key::text as period_key,
        numerator::numeric as numerator,
        denominator::numeric as denominator
    from unioned
    where numerator <> 0 or denominator <> 0

)

select * from final
