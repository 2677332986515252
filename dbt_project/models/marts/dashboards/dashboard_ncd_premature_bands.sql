{#-
    fct_ncd_premature_bands as the dashboards read it: an age-band label, the org unit's
    township and facility (for row-level security) and the year's Chinese label.
-#}

with bands as (
    select * from {{ ref('fct_ncd_premature_bands') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

final as (
    select
        bands.band_key,
        bands.band_start_age,
        bands.band_start_age || '–' || bands.band_end_age || '岁' as age_band_zh,
        {{ dashboard_org_columns('bands') }},
        bands.period_key,
        periods.period_label_zh,
        bands.deaths,
        bands.population,
        bands.mortality_rate,
        bands.death_probability
    from bands
    inner join org_units on bands.org_unit_code = org_units.org_unit_code
    inner join periods on bands.period_key = periods.period_key
)

select * from final
