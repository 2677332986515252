{{ config(materialized='table') }}

{#-
    Maternal indicators (spec §2 Maternal) per indicator_code x facility_code x period_key.
    Denominator = live births of the cohort deliveries (a twin delivery adds 2); numerator =
    cohort deliveries with the indicator's flag (a delivery adds at most 1):
    MAT_EARLY_REG is_early_registration, MAT_POSTPARTUM_VISIT has_postpartum_visit_28d,
    MAT_SYS_MGMT is_systematically_managed (int_maternal__deliveries).
-#}

with delivery_windows as (

    select * from {{ ref('int_maternal__delivery_windows') }}

),

unpivoted as (

    select
        dw.facility_code,
        dw.period_key,
        dw.live_births,
        v.indicator_code,
        v.is_counted
    from delivery_windows as dw
    cross join lateral (
        values
        ('MAT_EARLY_REG', dw.is_early_registration),
        ('MAT_POSTPARTUM_VISIT', dw.has_postpartum_visit_28d),
        ('MAT_SYS_MGMT', dw.is_systematically_managed)
    ) as v (indicator_code, is_counted)

),

final as (

    select
        indicator_code::text as indicator_code,
        facility_code::text as facility_code,
        period_key::text as period_key,
        count(*) filter (where is_counted)::numeric as numerator,
        sum(live_births)::numeric as denominator
    from unpivoted
    group by indicator_code, facility_code, period_key

)

select * from final
