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

-- each period's population of the service ages
service_population as (

    {{ period_population(where='pop.age >= ' ~ service_population_min_age) }}

),

final as (

    select
        pa.condition,
        sp.facility_code,
        sp.period_key,
        sp.assessment_year,
        sum(sp.population)::numeric as population_35_plus,
        sum(sp.population::numeric * pa.prevalence::numeric) as estimated_patients
    from service_population as sp
    inner join prevalence as pa
        on sp.age between pa.age_band_min and pa.age_band_max
    group by pa.condition, sp.facility_code, sp.period_key, sp.assessment_year

)

select * from final
