{{ config(materialized='table') }}

{#-
    Elderly indicators (spec §2 Elderly) per indicator_code x facility_code x period_key:
    - ELD_HEALTH_MGMT: numerator = persons of int_elderly__person_windows with
      is_health_managed; ELD_TCM: numerator = persons with is_tcm_managed;
    - denominator (both) = official population aged >= 65 of the facility's catchment township
      (int_population.facility_code) for the window's assessment year. Population ages are
      completed years in the population year, so age >= 65 there matches "birth year <= Y - 65".
    Rows exist for every facility with a population or a numerator in the period (0 / 0 rows
    are omitted).
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

with person_windows as (

    select * from {{ ref('int_elderly__person_windows') }}

),

population as (

    select * from {{ ref('int_population') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

facts as (

    {{ indicator_facts('person_windows', [
        ('ELD_HEALTH_MGMT', 'is_health_managed::int', '0'),
        ('ELD_TCM', 'is_tcm_managed::int', '0'),
    ], windows='periods') }}

    union all

    {{ population_denominator_facts(
        ['ELD_HEALTH_MGMT', 'ELD_TCM'], min_age=var('elderly_min_age')
    ) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
