{#-
    OUT_NCD_PREMATURE inputs per org unit, year and 5-year age band (30–34 … 65–69): deaths from
    the four major NCD cause groups and the official population, summed up the hierarchy.
    WHO SDG 3.4.1: M = deaths / population, q = 5M / (1 + 2.5M); the indicator is 1 − Π(1 − q).
-#}
{%- set band_years = var('ncd_premature_band_years') -%}

with bands as (
    select * from {{ ref('int_indicator__ncd_premature_bands') }}
),

org_units as (
    select * from {{ ref('int_org_units') }}
),

joined as (
    select
        bands.period_key,
        bands.band_start_age,
        bands.deaths,
        bands.population,
        bands.facility_code,
        org_units.township_code,
        org_units.district_code
    from bands
    inner join org_units
        on
            bands.facility_code = org_units.org_unit_code
            and org_units.org_level = 'facility'
),

by_level as (
    {{ sum_by_org_level(
        'joined',
        group_by=['period_key', 'band_start_age'],
        measures=['deaths', 'population'],
    ) }}
),

final as (
    select
        org_level,
        org_unit_code,
        period_key,
        band_start_age,
        band_start_age + {{ band_years - 1 }} as band_end_age,
        deaths,
        population,
        deaths::numeric / nullif(population, 0) as mortality_rate,
        -- q = nM / (1 + nM / 2) for a band of n years
        {{ band_years }} * (deaths::numeric / nullif(population, 0))
        / (1 + {{ band_years / 2 }} * (deaths::numeric / nullif(population, 0)))
            as death_probability
    from by_level
)

select * from final
