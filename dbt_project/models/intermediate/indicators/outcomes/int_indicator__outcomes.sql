{{ config(materialized='table') }}

{#-
    Outcome indicators (spec §2 Outcomes), period_type = 'year' only, per indicator_code x
    facility_code x period_key:
    - OUT_IMR numerator = deaths before age 1 in the year, OUT_U5MR = deaths before age 5,
      OUT_MMR = maternal deaths (pregnancy related, not external cause) (int_outcomes__death_windows);
    - denominator (all three) = live births in the year: the live births of the maternal cohort
      deliveries of the year (int_maternal__delivery_windows, same attribution to the mother's
      facility), so MAT_* and OUT_* use the same live-birth count.
    OUT_NCD_PREMATURE is not here: its band inputs are in int_indicator__ncd_premature_bands.
    Numerators are not subsets of the denominators (deaths vs. births).
-#}

with death_windows as (

    select * from {{ ref('int_outcomes__death_windows') }}

),

delivery_windows as (

    select * from {{ ref('int_maternal__delivery_windows') }}

),

indicator_codes as (

    select indicator_code
    from (values ('OUT_IMR'), ('OUT_U5MR'), ('OUT_MMR')) as v (indicator_code)

),

death_counts as (

    select
        dw.facility_code,
        dw.period_key,
        v.indicator_code,
        count(*) filter (where v.is_counted) as numerator
    from death_windows as dw
    cross join
        lateral (
            values
            ('OUT_IMR', dw.is_infant_death),
            ('OUT_U5MR', dw.is_under5_death),
            ('OUT_MMR', dw.is_maternal_death)
        ) as v (indicator_code, is_counted)
    group by dw.facility_code, dw.period_key, v.indicator_code

),

live_births as (

    select
        facility_code,
        period_key,
        sum(live_births) as live_births
    from delivery_windows
    where period_type = 'year'
    group by facility_code, period_key

),

denominators as (

    select
        ic.indicator_code,
        lb.facility_code,
        lb.period_key,
        lb.live_births as denominator
    from indicator_codes as ic
    cross join live_births as lb

),

final as (

    select
        coalesce(n.indicator_code, d.indicator_code)::text as indicator_code,
        coalesce(n.facility_code, d.facility_code)::text as facility_code,
        coalesce(n.period_key, d.period_key)::text as period_key,
        coalesce(n.numerator, 0)::numeric as numerator,
        coalesce(d.denominator, 0)::numeric as denominator
    from death_counts as n
    full outer join denominators as d
        on
            n.indicator_code = d.indicator_code
            and n.facility_code = d.facility_code
            and n.period_key = d.period_key
    where coalesce(n.numerator, 0) <> 0 or coalesce(d.denominator, 0) <> 0

)

select * from final
