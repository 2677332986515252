{{ config(materialized='table') }}

{#-
    Outcome deaths per annual window (spec §2 Outcomes are annual): one row per counted death
    (int_outcomes__deaths) x period_key of period_type 'year' whose window contains the death
    date, for deaths attributed to a facility.
-#}

with deaths as (

    select * from {{ ref('int_outcomes__deaths') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

final as (

    select
        d.death_record_id,
        pr.period_key,
        pr.assessment_year,
        d.facility_code,
        d.death_date,
        d.age_at_death_years,
        d.is_infant_death,
        d.is_under5_death,
        d.is_maternal_death,
        d.is_ncd_cause,
        d.ncd_band_start_age
    from deaths as d
    inner join periods as pr
        on
            pr.period_type = 'year'
            and d.death_date between pr.window_start and pr.period_end
    where d.facility_code is not null

)

select * from final
