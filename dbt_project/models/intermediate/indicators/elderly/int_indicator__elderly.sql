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
-#}
{%- set elderly_min_age = 65 -%}

with person_windows as (

    select * from {{ ref('int_elderly__person_windows') }}

),

population as (

    select * from {{ ref('int_population') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

indicator_codes as (

    select indicator_code
    from (values ('ELD_HEALTH_MGMT'), ('ELD_TCM')) as v (indicator_code)

),

numerators as (

    select
        'ELD_HEALTH_MGMT' as indicator_code,
        facility_code,
        period_key,
        count(*) filter (where is_health_managed) as numerator
    from person_windows
    group by facility_code, period_key

    union all

    select
        'ELD_TCM' as indicator_code,
        facility_code,
        period_key,
        count(*) filter (where is_tcm_managed) as numerator
    from person_windows
    group by facility_code, period_key

),

population_65 as (

    select
        pr.period_key,
        pop.facility_code,
        sum(pop.population) as population
    from periods as pr
    inner join population as pop
        on
            pr.assessment_year = pop.population_year
            and pop.age >= {{ elderly_min_age }}
    where pop.facility_code is not null
    group by pr.period_key, pop.facility_code

),

denominators as (

    select
        ic.indicator_code,
        p65.facility_code,
        p65.period_key,
        p65.population as denominator
    from indicator_codes as ic
    cross join population_65 as p65

),

final as (

    select
        coalesce(n.indicator_code, d.indicator_code)::text as indicator_code,
        coalesce(n.facility_code, d.facility_code)::text as facility_code,
        coalesce(n.period_key, d.period_key)::text as period_key,
        coalesce(n.numerator, 0)::numeric as numerator,
        coalesce(d.denominator, 0)::numeric as denominator
    from numerators as n
    full outer join denominators as d
        on
            n.indicator_code = d.indicator_code
            and n.facility_code = d.facility_code
            and n.period_key = d.period_key
    where coalesce(n.numerator, 0) <> 0 or coalesce(d.denominator, 0) <> 0

)

select * from final
