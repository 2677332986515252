{{ config(materialized='table') }}

{#-
    Outcome indicators (spec §2 Outcomes), period_type = 'year' only, per indicator_code x
    facility_code x period_key:
    - OUT_IMR numerator = deaths before age 1 in the year, OUT_U5MR = deaths before age 5,
      OUT_MMR = maternal deaths (pregnancy related, not external cause) (int_outcomes__death_windows);
    - denominator (all three) = live births in the year: the live births of the maternal cohort
      deliveries of the year (int_maternal__delivery_windows, same attribution to the mother's
      facility), so MAT_* and OUT_* use the same live-birth count.
    - OUT_NCD_PREMATURE: deaths and population aged 30-69 summed over its age bands
      (int_indicator__ncd_premature_bands); its value is computed from the bands downstream.
    Numerators are not subsets of the denominators (deaths vs. births). Facts in the long
    shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

with death_windows as (

    select * from {{ ref('int_outcomes__death_windows') }}

),

delivery_windows as (

    select * from {{ ref('int_maternal__delivery_windows') }}

),

ncd_premature_bands as (

    select * from {{ ref('int_indicator__ncd_premature_bands') }}

),

facts as (

    {{ indicator_facts('death_windows', [
        ('OUT_IMR', 'is_infant_death::int', '0'),
        ('OUT_U5MR', 'is_under5_death::int', '0'),
        ('OUT_MMR', 'is_maternal_death::int', '0'),
    ]) }}

    union all

    {{ indicator_facts('delivery_windows', [
        ('OUT_IMR', '0', 'live_births'),
        ('OUT_U5MR', '0', 'live_births'),
        ('OUT_MMR', '0', 'live_births'),
    ], where="period_type = 'year'") }}

    union all

    -- the value comes from the age bands (fct_ncd_premature_bands); these sums make its
    -- numerator and denominator the deaths and population aged 30-69
    {{ indicator_facts('ncd_premature_bands', [
        ('OUT_NCD_PREMATURE', 'deaths', 'population'),
    ]) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
