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
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

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

facts as (

    {{ indicator_facts('newborn_visit_windows', [
        ('CH_NEWBORN_VISIT', 'has_visit_within_28d::int', '1'),
    ]) }}

    union all

    {{ indicator_facts('health_check_windows', [('CH_HEALTH_MGMT', '1', '0')]) }}

    union all

    {{ population_denominator_facts(
        ['CH_HEALTH_MGMT'], min_age=0, max_age=var('child_max_age_years')
    ) }}

    union all

    {{ indicator_facts('tcm_windows', [('CH_TCM', 'has_tcm_guidance::int', '1')]) }}

    union all

    {{ indicator_facts('vaccination_doses', [
        ('CH_VACCINATION', 'children_vaccinated', 'children_due'),
    ]) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
