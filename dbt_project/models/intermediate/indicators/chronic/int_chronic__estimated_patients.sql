{{ config(materialized='table') }}

{#-
    Estimated patients (spec §2 Chronic disease, denominators of HTN_MGMT and T2D_MGMT): per
    condition x primary-care facility x reporting period, Σ official population aged >= 35 of
    the facility's catchment township in the window's assessment year x the prevalence of the
    person's age band (seed prevalence_assumptions; an age no band covers contributes 0).
    Kept as an exact numeric (decimals are not rounded). Population rows of townships the org
    units do not know (facility_code null) are left out.
-#}

{%- set service_population_min_age = var('chronic_service_population_min_age') -%}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

population as (

    select * from {{ ref('int_population') }}

),

prevalence as (

    select * from {{ ref('prevalence_assumptions') }}

),

final as (

    select
        pa.condition,
        pop.facility_code,
        p.period_key,
        p.assessment_year,
        sum(pop.population)::numeric as population_35_plus,
        sum(pop.population::numeric * pa.prevalence::numeric) as estimated_patients
    from population as pop
    inner join periods as p on pop.population_year = p.assessment_year
    inner join prevalence as pa
        on pop.age between pa.age_band_min and pa.age_band_max
    where
        pop.age >= {{ service_population_min_age }}
        and pop.facility_code is not null
    group by pa.condition, pop.facility_code, p.period_key, p.assessment_year

)

select * from final
