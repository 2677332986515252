{{ config(materialized='table') }}

{#-
    Maternal indicators (spec §2 Maternal) per indicator_code x facility_code x period_key.
    Denominator = live births of the cohort deliveries (a twin delivery adds 2); numerator =
    cohort deliveries with the indicator's flag (a delivery adds at most 1):
    MAT_EARLY_REG is_early_registration, MAT_POSTPARTUM_VISIT has_postpartum_visit_28d,
    MAT_SYS_MGMT is_systematically_managed (int_maternal__deliveries).
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

with delivery_windows as (

    select * from {{ ref('int_maternal__delivery_windows') }}

),

facts as (

    {{ indicator_facts('delivery_windows', [
        ('MAT_EARLY_REG', 'is_early_registration::int', 'live_births'),
        ('MAT_POSTPARTUM_VISIT', 'has_postpartum_visit_28d::int', 'live_births'),
        ('MAT_SYS_MGMT', 'is_systematically_managed::int', 'live_births'),
    ]) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
