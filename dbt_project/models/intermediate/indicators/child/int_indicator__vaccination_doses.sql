{{ config(materialized='table') }}

{#-
    CH_VACCINATION breakdown by vaccine and dose (spec §2 Children: "also publish CH_VACCINATION
    per vaccine and dose"): one row per vaccine_code x dose_number x facility_code x period_key
    with children_due (denominator) and children_vaccinated (numerator). Summing over vaccine
    and dose gives CH_VACCINATION in int_indicator__child.
-#}

with vaccination_windows as (

    select * from {{ ref('int_child__vaccination_windows') }}

),

final as (

    select
        vaccine_code,
        dose_number,
        facility_code,
        period_key,
        count(*)::numeric as children_due,
        (count(*) filter (where is_received))::numeric as children_vaccinated
    from vaccination_windows
    group by vaccine_code, dose_number, facility_code, period_key

)

select * from final
