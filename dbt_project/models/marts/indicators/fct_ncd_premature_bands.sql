{#- OUT_NCD_PREMATURE's age-band inputs per org unit and year (WHO SDG 3.4.1 method). -#}

with bands as (
    select * from {{ ref('int_ncd_premature_bands__by_org_unit') }}
),

final as (
    select
        org_unit_code || '|' || period_key || '|' || band_start_age::text as band_key,
        org_level,
        org_unit_code,
        period_key,
        band_start_age,
        band_end_age,
        deaths::bigint as deaths,
        population::bigint as population,
        round(mortality_rate, 8) as mortality_rate,
        round(death_probability, 8) as death_probability
    from bands
)

select * from final
