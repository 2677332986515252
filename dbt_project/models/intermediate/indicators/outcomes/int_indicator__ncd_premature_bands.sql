{{ config(materialized='table') }}

{#-
    Band inputs of OUT_NCD_PREMATURE (spec §2 Outcomes, WHO SDG 3.4.1): one row per
    facility_code x period_key (period_type 'year') x 5-year age band 30-34 ... 65-69
    (band_start_age 30..65):
    - deaths: deaths in the year from the causes of icd10_cause_ranges (OUT_NCD_PREMATURE,
      include: I00-I99, C00-C97, E10-E14, J30-J98) with age at death (completed years) in the
      band, attributed to the deceased's facility (int_outcomes__death_windows);
    - population: official population of the facility's catchment township in that age band for
      the assessment year (int_population).
    The lead computes M = deaths / population, q = 5M / (1 + 2.5M) and 1 - prod(1 - q) per org
    level from the summed band inputs. Every band of every facility with population in the year
    has a row (deaths 0 when none).
-#}
{%- set band_min_age = var('ncd_premature_min_age') -%}
{%- set band_width = var('ncd_premature_band_years') -%}
{%- set band_max_start_age = var('ncd_premature_max_age') - band_width + 1 -%}

with death_windows as (

    select * from {{ ref('int_outcomes__death_windows') }}

),

population as (

    select * from {{ ref('int_population') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

-- the years' population of the ages of the bands
year_population as (

    {{ period_population(
        where="pr.period_type = 'year' and pop.age between "
        ~ band_min_age ~ " and " ~ (band_max_start_age + band_width - 1)
    ) }}

),

population_by_age as (

    select
        facility_code,
        period_key,
        {{ band_min_age }} + {{ band_width }} * ((age - {{ band_min_age }}) / {{ band_width }})
            as band_start_age,
        population
    from year_population

),

band_population as (

    select
        facility_code,
        period_key,
        band_start_age,
        sum(population) as population
    from population_by_age
    group by facility_code, period_key, band_start_age

),

bands as (

    select band_start_age::integer as band_start_age
    from generate_series(
        {{ band_min_age }}, {{ band_max_start_age }}, {{ band_width }}
    ) as g (band_start_age)

),

facility_years as (

    select distinct
        facility_code,
        period_key
    from band_population

    union

    select distinct
        facility_code,
        period_key
    from death_windows
    where is_ncd_cause and ncd_band_start_age is not null

),

band_deaths as (

    select
        facility_code,
        period_key,
        ncd_band_start_age as band_start_age,
        count(*) as deaths
    from death_windows
    where is_ncd_cause and ncd_band_start_age is not null
    group by facility_code, period_key, ncd_band_start_age

),

final as (

    select
        fy.facility_code::text as facility_code,
        fy.period_key::text as period_key,
        b.band_start_age,
        b.band_start_age + {{ band_width - 1 }} as band_end_age,
        coalesce(bd.deaths, 0)::numeric as deaths,
        coalesce(bp.population, 0)::numeric as population
    from facility_years as fy
    cross join bands as b
    left join band_deaths as bd
        on
            fy.facility_code = bd.facility_code
            and fy.period_key = bd.period_key
            and b.band_start_age = bd.band_start_age
    left join band_population as bp
        on
            fy.facility_code = bp.facility_code
            and fy.period_key = bp.period_key
            and b.band_start_age = bp.band_start_age

)

select * from final
